-- Tables the seed's broadcast triggers read and write, with the column names
-- its SQL uses. Ids are uuids, times are timestamptz with defaults, and every
-- reference is a foreign key (no cascades: a delete that would orphan a row fails).

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  eid varchar(16) NOT NULL UNIQUE,
  name text NOT NULL,
  venue text,
  starts_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE people (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  first_name text,
  last_name text,
  email text,
  phone text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE artist_profiles (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  person_id uuid REFERENCES people (id),
  name text NOT NULL,
  city text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE art (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id uuid NOT NULL REFERENCES events (id),
  artist_profile_id uuid REFERENCES artist_profiles (id),
  code varchar(32) NOT NULL UNIQUE,
  round integer NOT NULL DEFAULT 1 CHECK (round BETWEEN 1 AND 9),
  easel integer,
  is_winner boolean NOT NULL DEFAULT false,
  status text NOT NULL DEFAULT 'active',
  starting_bid numeric(10, 2) NOT NULL DEFAULT 50.00,
  auction_start_datetime timestamptz,
  auction_end_datetime timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bids (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  art_id uuid NOT NULL REFERENCES art (id),
  person_id uuid NOT NULL REFERENCES people (id),
  amount numeric(10, 2) NOT NULL CHECK (amount > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bids_art_id_idx ON bids (art_id, amount DESC);

CREATE TABLE votes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  art_uuid uuid NOT NULL REFERENCES art (id),
  event_id uuid NOT NULL REFERENCES events (id),
  person_id uuid NOT NULL REFERENCES people (id),
  round integer NOT NULL,
  vote_factor numeric(6, 3) NOT NULL DEFAULT 1.000,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX votes_art_uuid_idx ON votes (art_uuid);

CREATE TABLE art_media (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  art_id uuid NOT NULL REFERENCES art (id),
  image_url text NOT NULL,
  is_primary_image boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE round_contestants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id uuid NOT NULL REFERENCES events (id),
  round integer NOT NULL,
  art_id uuid REFERENCES art (id),
  easel_number integer,
  is_winner integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);
