-- The seed's five trigger functions and five triggers, exactly as
-- broadcast-migration-plan.md (section 1.1 and 1.2) writes them.

CREATE OR REPLACE FUNCTION broadcast_bid_realtime()
RETURNS TRIGGER AS $$
DECLARE
  v_event_id UUID;
  v_art_code VARCHAR;
  v_artist_name VARCHAR;
BEGIN
  -- Get event context
  SELECT a.event_id, a.code, ap.name 
  INTO v_event_id, v_art_code, v_artist_name
  FROM art a
  LEFT JOIN artist_profiles ap ON a.artist_profile_id = ap.id
  WHERE a.id = NEW.art_id;
  
  -- Targeted broadcast to specific art channel (load reduction)
  PERFORM pg_notify(
    CONCAT('broadcast:bid:', NEW.art_id),
    json_build_object(
      'type', 'bid_update',
      'art_id', NEW.art_id,
      'art_code', v_art_code,
      'artist_name', v_artist_name,
      'amount', NEW.amount,
      'event_id', v_event_id,
      'timestamp', NEW.created_at,
      'bidder_id', NEW.person_id
    )::text
  );
  
  -- Event-wide broadcast for admin dashboards
  PERFORM pg_notify(
    CONCAT('broadcast:admin:', v_event_id),
    json_build_object(
      'type', 'bid_update',
      'art_id', NEW.art_id,
      'art_code', v_art_code,
      'amount', NEW.amount,
      'timestamp', NEW.created_at
    )::text
  );
  
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION broadcast_vote_realtime()
RETURNS TRIGGER AS $$
DECLARE
  v_event_id UUID;
  v_art_code VARCHAR;
BEGIN
  SELECT a.event_id, a.code INTO v_event_id, v_art_code
  FROM art a WHERE a.id = NEW.art_uuid;
  
  -- Admin-only channel for vote monitoring
  PERFORM pg_notify(
    CONCAT('broadcast:admin:', v_event_id),
    json_build_object(
      'type', 'vote_update',
      'art_id', NEW.art_uuid,
      'art_code', v_art_code,
      'vote_factor', NEW.vote_factor,
      'round', NEW.round,
      'voter_id', NEW.person_id,
      'timestamp', NEW.created_at
    )::text
  );
  
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION broadcast_art_realtime()
RETURNS TRIGGER AS $$
BEGIN
  -- Winner status changes (public broadcast)
  IF OLD.is_winner IS DISTINCT FROM NEW.is_winner THEN
    PERFORM pg_notify(
      CONCAT('broadcast:event:', NEW.event_id),
      json_build_object(
        'type', 'winner_update',
        'art_id', NEW.id,
        'art_code', NEW.code,
        'is_winner', NEW.is_winner,
        'round', NEW.round,
        'timestamp', NOW()
      )::text
    );
  END IF;
  
  -- Auction timing changes (public broadcast)
  IF OLD.auction_start_datetime IS DISTINCT FROM NEW.auction_start_datetime OR
     OLD.auction_end_datetime IS DISTINCT FROM NEW.auction_end_datetime THEN
    PERFORM pg_notify(
      CONCAT('broadcast:event:', NEW.event_id),
      json_build_object(
        'type', 'auction_update',
        'art_id', NEW.id,
        'art_code', NEW.code,
        'auction_start', NEW.auction_start_datetime,
        'auction_end', NEW.auction_end_datetime,
        'timestamp', NOW()
      )::text
    );
  END IF;
  
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION broadcast_art_media_realtime()
RETURNS TRIGGER AS $$
DECLARE
  v_event_id UUID;
BEGIN
  SELECT event_id INTO v_event_id FROM art WHERE id = NEW.art_id;
  
  -- Targeted broadcast to art-specific media channel
  PERFORM pg_notify(
    CONCAT('broadcast:art_media:', NEW.art_id),
    json_build_object(
      'type', 'media_update',
      'art_id', NEW.art_id,
      'event_id', v_event_id,
      'media_id', NEW.id,
      'url', NEW.image_url,
      'is_primary', NEW.is_primary_image,
      'timestamp', NEW.created_at
    )::text
  );
  
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION broadcast_round_contestants_realtime()
RETURNS TRIGGER AS $$
DECLARE
  v_operation TEXT;
BEGIN
  -- Determine operation type
  IF TG_OP = 'INSERT' THEN
    v_operation := 'added';
  ELSIF TG_OP = 'DELETE' THEN
    v_operation := 'removed';
  ELSE
    v_operation := 'updated';
  END IF;
  
  -- Admin-only broadcast for round management
  PERFORM pg_notify(
    CONCAT('broadcast:admin:', COALESCE(NEW.event_id, OLD.event_id)),
    json_build_object(
      'type', 'round_contestants_update',
      'operation', v_operation,
      'event_id', COALESCE(NEW.event_id, OLD.event_id),
      'round', COALESCE(NEW.round, OLD.round),
      'art_id', COALESCE(NEW.art_id, OLD.art_id),
      'timestamp', NOW()
    )::text
  );
  
  RETURN COALESCE(NEW, OLD);
END;
$$ LANGUAGE plpgsql;

-- Create triggers for broadcast functions
CREATE TRIGGER broadcast_bid_trigger
  AFTER INSERT ON bids
  FOR EACH ROW
  EXECUTE FUNCTION broadcast_bid_realtime();

CREATE TRIGGER broadcast_vote_trigger
  AFTER INSERT ON votes
  FOR EACH ROW
  EXECUTE FUNCTION broadcast_vote_realtime();

CREATE TRIGGER broadcast_art_trigger
  AFTER UPDATE ON art
  FOR EACH ROW
  EXECUTE FUNCTION broadcast_art_realtime();

CREATE TRIGGER broadcast_art_media_trigger
  AFTER INSERT OR UPDATE ON art_media
  FOR EACH ROW
  EXECUTE FUNCTION broadcast_art_media_realtime();

CREATE TRIGGER broadcast_round_contestants_trigger
  AFTER INSERT OR UPDATE OR DELETE ON round_contestants
  FOR EACH ROW
  EXECUTE FUNCTION broadcast_round_contestants_realtime();
