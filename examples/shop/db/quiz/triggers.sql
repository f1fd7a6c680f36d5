-- Broadcasts of the quiz. Everything a lobby's screens show goes to the public topic
-- lobby:{id}; the scoreboard service LISTENs on quiz_answers for answers to grade.

CREATE FUNCTION lobby_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'finished' AND OLD.status <> 'finished' THEN
    PERFORM realtime.send(
      jsonb_build_object('lobby', NEW.id, 'finished_at', NEW.finished_at), 'lobby_finished', 'lobby:' || NEW.id, false);
  ELSIF NEW.status <> OLD.status THEN
    PERFORM pg_notify('quiz_lobbies', json_build_object('lobby', NEW.id, 'status', NEW.status)::text);
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER lobby_changed AFTER UPDATE OF status ON lobbies
  FOR EACH ROW EXECUTE FUNCTION lobby_changed();

CREATE FUNCTION player_joined() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM realtime.send(
    jsonb_build_object('player', NEW.id, 'name', NEW.name, 'host', NEW.is_host), 'player_joined',
    'lobby:' || NEW.lobby_id, false);
  RETURN NEW;
END;
$$;

CREATE TRIGGER player_joined AFTER INSERT ON players
  FOR EACH ROW EXECUTE FUNCTION player_joined();

CREATE FUNCTION round_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'open' AND OLD.status = 'pending' THEN
    PERFORM realtime.send(
      jsonb_build_object('round', NEW.id, 'closes_at', NEW.closes_at), 'round_open', 'lobby:' || NEW.lobby_id, false);
  ELSIF NEW.status = 'closed' AND OLD.status = 'open' THEN
    PERFORM realtime.send(jsonb_build_object('round', NEW.id), 'round_closed', 'lobby:' || NEW.lobby_id, false);
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER round_changed AFTER UPDATE ON rounds
  FOR EACH ROW EXECUTE FUNCTION round_changed();

CREATE FUNCTION answer_given() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('quiz_answers',
    json_build_object('lobby', NEW.lobby_id, 'round', NEW.round_id, 'player', NEW.player_id)::text);
  IF NEW.points > 1000 THEN
    -- Never sent: the CHECK on points keeps them at or under 1000.
    PERFORM pg_notify('quiz_alarms', json_build_object('player', NEW.player_id, 'points', NEW.points)::text);
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER answer_given AFTER INSERT ON answers
  FOR EACH ROW EXECUTE FUNCTION answer_given();

CREATE FUNCTION answers_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM realtime.broadcast_changes(
    'lobby:' || NEW.lobby_id || ':answers', TG_OP, TG_OP, TG_TABLE_NAME, TG_TABLE_SCHEMA, NEW, OLD, 'ROW');
  RETURN NEW;
END;
$$;

CREATE TRIGGER answers_changed AFTER UPDATE OF correct ON answers
  FOR EACH ROW EXECUTE FUNCTION answers_changed();

CREATE FUNCTION score_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.streak >= 3 AND NEW.streak > OLD.streak THEN
    PERFORM realtime.send(
      jsonb_build_object('player', NEW.player_id, 'streak', NEW.streak), 'streak', 'lobby:' || NEW.lobby_id, false);
  END IF;
  IF NEW.total <> OLD.total THEN
    PERFORM realtime.send(
      jsonb_build_object('player', NEW.player_id, 'total', NEW.total), 'score', 'lobby:' || NEW.lobby_id, false);
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER score_changed AFTER UPDATE ON scores
  FOR EACH ROW EXECUTE FUNCTION score_changed();
