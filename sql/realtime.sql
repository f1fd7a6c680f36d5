-- A minimal `realtime` schema that behaves as Supabase Realtime's does for
-- broadcast from the database: `realtime.send` inserts into `realtime.messages`
-- (the server streams those inserts to subscribers of the topic), and any error
-- inside `send` becomes a WARNING, so the caller's transaction commits and
-- nothing is broadcast.

CREATE SCHEMA IF NOT EXISTS realtime;

CREATE TABLE realtime.messages (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  topic text NOT NULL,
  extension text NOT NULL,
  payload jsonb,
  event text,
  private boolean DEFAULT false,
  updated_at timestamp without time zone NOT NULL DEFAULT now(),
  inserted_at timestamp without time zone NOT NULL DEFAULT now(),
  PRIMARY KEY (id, inserted_at)
) PARTITION BY RANGE (inserted_at);

-- The server creates one partition per day and drops them after 72 hours; a
-- default partition stands in for them here.
CREATE TABLE realtime.messages_default PARTITION OF realtime.messages DEFAULT;

CREATE FUNCTION realtime.topic() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('realtime.topic', true), '')::text;
$$;

CREATE FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    -- RLS policies on realtime.messages read the topic through realtime.topic().
    PERFORM set_config('realtime.topic', topic, true);
    INSERT INTO realtime.messages (payload, event, topic, private, extension)
    VALUES (payload, event, topic, private, 'broadcast');
  EXCEPTION
    WHEN OTHERS THEN
      RAISE WARNING 'ErrorSendingBroadcastMessage: %', SQLERRM;
  END;
END;
$$;

CREATE FUNCTION realtime.broadcast_changes(
  topic_name text, event_name text, operation text, table_name text, table_schema text,
  new record, old record, level text DEFAULT 'ROW'
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  row_data jsonb := '{}'::jsonb;
BEGIN
  IF level = 'STATEMENT' THEN
    RAISE EXCEPTION 'function can only be triggered for each row, not for each statement';
  END IF;
  -- Private by design: only subscribers allowed by RLS on realtime.messages receive it.
  row_data := jsonb_build_object(
    'old_record', old, 'record', new, 'operation', operation, 'table', table_name, 'schema', table_schema
  );
  PERFORM realtime.send(row_data, event_name, topic_name, true);
END;
$$;
