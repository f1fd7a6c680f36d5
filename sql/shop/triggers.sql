-- Broadcasts: an order's changes go to its customer on the private topic order:{id};
-- low stock goes to everyone on the public topic stock:{store}; workers LISTEN on
-- fulfilment_jobs for new jobs.

CREATE FUNCTION order_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM realtime.send(
      jsonb_build_object('id', OLD.id, 'status', 'deleted'), 'order_deleted', 'order:' || OLD.id, true);
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
    RETURN NEW;
  END IF;
  PERFORM realtime.send(
    jsonb_build_object('id', NEW.id, 'status', NEW.status, 'total', NEW.total),
    'order_status', 'order:' || NEW.id, true);
  RETURN NEW;
END;
$$;

CREATE TRIGGER order_changed AFTER INSERT OR UPDATE OR DELETE ON orders
  FOR EACH ROW EXECUTE FUNCTION order_changed();

CREATE FUNCTION stock_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM realtime.send(
    jsonb_build_object('sku', NEW.sku, 'quantity', NEW.quantity), 'low_stock', 'stock:' || NEW.store, false);
  RETURN NEW;
END;
$$;

CREATE TRIGGER stock_changed AFTER INSERT OR UPDATE OF quantity ON inventory
  FOR EACH ROW WHEN (NEW.quantity < 5) EXECUTE FUNCTION stock_changed();

CREATE FUNCTION job_queued() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('fulfilment_jobs', json_build_object('id', NEW.id, 'order', NEW.order_id, 'kind', NEW.kind)::text);
  RETURN NEW;
END;
$$;

CREATE TRIGGER job_queued AFTER INSERT ON fulfilment_jobs
  FOR EACH ROW EXECUTE FUNCTION job_queued();
