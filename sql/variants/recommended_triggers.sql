-- A corrected variant of the seed's five broadcast triggers (sql/broadcast_triggers.sql).
--
-- Load after sql/schema.sql and sql/realtime.sql, instead of or after the seed's
-- triggers: every function is CREATE OR REPLACE and every trigger is dropped first.
-- `bcastsim check --schema sql/schema.sql --schema sql/realtime.sql
-- sql/variants/recommended_triggers.sql` reports no error-level finding.
--
-- What changes, and why:
--  * realtime.send instead of pg_notify: Supabase Realtime has no LISTEN path, so the
--    seed's notifications reach nobody; realtime.send also takes no cluster-wide lock at
--    commit (pg_notify serializes every notifying transaction, bad for bursts of bids).
--  * Admin data (bids with their artwork, votes, round management) goes to private
--    topics (private => true). Subscribers join with { config: { private: true } } and an
--    RLS policy on realtime.messages decides who may read a topic, for example:
--      CREATE POLICY admins_read_admin_topics ON realtime.messages FOR SELECT
--        TO authenticated USING (realtime.topic() LIKE 'broadcast:admin:%' AND <is admin>);
--  * Public topics carry only public data: no bidder or voter ids (the bidder's client
--    recognises its own bid by the bid id its insert returned), no unbounded text.
--  * Topics are built from NOT NULL columns of the row itself where the row has them, so
--    a topic is never NULL and never a bare prefix.
--  * SECURITY DEFINER (so clients need no INSERT right on realtime.messages) with a pinned,
--    empty search_path and schema-qualified names.
--  * Times mean what their keys say: created_at is the row's creation time (sent on
--    INSERT only); changed_at is clock_timestamp(), when the trigger ran, not the start
--    of the transaction.
--  * Every payload carries the row's primary key, and UPDATE triggers fire only for the
--    columns the messages report.
--  * AFTER triggers return NULL: their return value is ignored anyway.

CREATE OR REPLACE FUNCTION public.broadcast_bid_realtime()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
  v_event_id uuid;
  v_art_code varchar;
BEGIN
  PERFORM realtime.send(
    jsonb_build_object(
      'type', 'bid_update',
      'bid_id', NEW.id,
      'art_id', NEW.art_id,
      'amount', NEW.amount,
      'created_at', NEW.created_at
    ),
    'bid_update',
    'broadcast:bid:' || NEW.art_id::text,
    false
  );

  SELECT a.event_id, a.code
  INTO v_event_id, v_art_code
  FROM public.art a
  WHERE a.id = NEW.art_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;

  PERFORM realtime.send(
    jsonb_build_object(
      'type', 'bid_update',
      'bid_id', NEW.id,
      'art_id', NEW.art_id,
      'art_code', v_art_code,
      'amount', NEW.amount,
      'created_at', NEW.created_at
    ),
    'bid_update',
    'broadcast:admin:' || v_event_id::text,
    true
  );
  RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION public.broadcast_vote_realtime()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
  v_art_code varchar;
BEGIN
  SELECT a.code INTO v_art_code FROM public.art a WHERE a.id = NEW.art_uuid;

  PERFORM realtime.send(
    jsonb_build_object(
      'type', 'vote_update',
      'vote_id', NEW.id,
      'art_id', NEW.art_uuid,
      'art_code', v_art_code,
      'round', NEW.round,
      'vote_factor', NEW.vote_factor,
      'created_at', NEW.created_at
    ),
    'vote_update',
    'broadcast:admin:' || NEW.event_id::text,
    true
  );
  RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION public.broadcast_art_realtime()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
  IF OLD.is_winner IS DISTINCT FROM NEW.is_winner THEN
    PERFORM realtime.send(
      jsonb_build_object(
        'type', 'winner_update',
        'art_id', NEW.id,
        'art_code', NEW.code,
        'is_winner', NEW.is_winner,
        'round', NEW.round,
        'changed_at', clock_timestamp()
      ),
      'winner_update',
      'broadcast:event:' || NEW.event_id::text,
      false
    );
  END IF;

  IF OLD.auction_start_datetime IS DISTINCT FROM NEW.auction_start_datetime OR
     OLD.auction_end_datetime IS DISTINCT FROM NEW.auction_end_datetime THEN
    PERFORM realtime.send(
      jsonb_build_object(
        'type', 'auction_update',
        'art_id', NEW.id,
        'art_code', NEW.code,
        'auction_start', NEW.auction_start_datetime,
        'auction_end', NEW.auction_end_datetime,
        'changed_at', clock_timestamp()
      ),
      'auction_update',
      'broadcast:event:' || NEW.event_id::text,
      false
    );
  END IF;
  RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION public.broadcast_art_media_realtime()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
  -- Ids only: clients refetch the media of the artwork, so the (unbounded) URL stays out.
  PERFORM realtime.send(
    jsonb_build_object(
      'type', 'media_update',
      'media_id', NEW.id,
      'art_id', NEW.art_id,
      'is_primary', NEW.is_primary_image,
      'changed_at', clock_timestamp()
    ),
    'media_update',
    'broadcast:art_media:' || NEW.art_id::text,
    false
  );
  RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION public.broadcast_round_contestants_realtime()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
  -- A row that left its event (DELETE, or UPDATE to another event) is reported to the
  -- old event's admins; a row that is (still) in an event to the new one's.
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.event_id IS DISTINCT FROM NEW.event_id) THEN
    PERFORM realtime.send(
      jsonb_build_object(
        'type', 'round_contestants_update',
        'operation', 'removed',
        'id', OLD.id,
        'event_id', OLD.event_id,
        'round', OLD.round,
        'art_id', OLD.art_id,
        'changed_at', clock_timestamp()
      ),
      'round_contestants_update',
      'broadcast:admin:' || OLD.event_id::text,
      true
    );
  END IF;

  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM realtime.send(
      jsonb_build_object(
        'type', 'round_contestants_update',
        'operation', CASE WHEN TG_OP = 'INSERT' THEN 'added' ELSE 'updated' END,
        'id', NEW.id,
        'event_id', NEW.event_id,
        'round', NEW.round,
        'art_id', NEW.art_id,
        'changed_at', clock_timestamp()
      ),
      'round_contestants_update',
      'broadcast:admin:' || NEW.event_id::text,
      true
    );
  END IF;
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS broadcast_bid_trigger ON public.bids;
CREATE TRIGGER broadcast_bid_trigger
  AFTER INSERT ON public.bids
  FOR EACH ROW
  EXECUTE FUNCTION public.broadcast_bid_realtime();

DROP TRIGGER IF EXISTS broadcast_vote_trigger ON public.votes;
CREATE TRIGGER broadcast_vote_trigger
  AFTER INSERT ON public.votes
  FOR EACH ROW
  EXECUTE FUNCTION public.broadcast_vote_realtime();

DROP TRIGGER IF EXISTS broadcast_art_trigger ON public.art;
CREATE TRIGGER broadcast_art_trigger
  AFTER UPDATE OF is_winner, auction_start_datetime, auction_end_datetime ON public.art
  FOR EACH ROW
  EXECUTE FUNCTION public.broadcast_art_realtime();

DROP TRIGGER IF EXISTS broadcast_art_media_trigger ON public.art_media;
CREATE TRIGGER broadcast_art_media_trigger
  AFTER INSERT ON public.art_media
  FOR EACH ROW
  EXECUTE FUNCTION public.broadcast_art_media_realtime();

DROP TRIGGER IF EXISTS broadcast_art_media_update_trigger ON public.art_media;
CREATE TRIGGER broadcast_art_media_update_trigger
  AFTER UPDATE OF image_url, is_primary_image ON public.art_media
  FOR EACH ROW
  WHEN (OLD.image_url IS DISTINCT FROM NEW.image_url
        OR OLD.is_primary_image IS DISTINCT FROM NEW.is_primary_image)
  EXECUTE FUNCTION public.broadcast_art_media_realtime();

DROP TRIGGER IF EXISTS broadcast_round_contestants_trigger ON public.round_contestants;
CREATE TRIGGER broadcast_round_contestants_trigger
  AFTER INSERT OR DELETE OR UPDATE OF event_id, round, art_id ON public.round_contestants
  FOR EACH ROW
  EXECUTE FUNCTION public.broadcast_round_contestants_realtime();
