-- A multiplayer quiz: lobbies, the players in them, rounds, answers and running scores.
-- Every child row carries its lobby_id (the multi-tenant pattern): answers has two composite
-- foreign keys that share lobby_id, so an answer's player and round must be in the same lobby.

CREATE TYPE lobby_status AS ENUM ('open', 'playing', 'finished');

CREATE DOMAIN nickname AS text CHECK (length(VALUE) BETWEEN 1 AND 24);

CREATE TABLE lobbies (
  id uuid PRIMARY KEY,
  code varchar(6) NOT NULL UNIQUE,
  status lobby_status NOT NULL DEFAULT 'open',
  max_players smallint NOT NULL DEFAULT 8 CHECK (max_players BETWEEN 2 AND 50),
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CONSTRAINT finished_has_time CHECK (status <> 'finished' OR finished_at IS NOT NULL)
);

CREATE TABLE players (
  lobby_id uuid NOT NULL REFERENCES lobbies (id) ON DELETE CASCADE,
  id integer NOT NULL,
  name nickname NOT NULL,
  is_host boolean NOT NULL DEFAULT false,
  PRIMARY KEY (lobby_id, id)
);

CREATE TABLE rounds (
  lobby_id uuid NOT NULL REFERENCES lobbies (id) ON DELETE CASCADE,
  id integer NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'open', 'closed')),
  opens_at timestamptz,
  closes_at timestamptz,
  PRIMARY KEY (lobby_id, id),
  CONSTRAINT closes_after_opening CHECK (closes_at IS NULL OR opens_at IS NULL OR closes_at > opens_at)
);

CREATE TABLE answers (
  lobby_id uuid NOT NULL,
  round_id integer NOT NULL,
  player_id integer NOT NULL,
  choice smallint NOT NULL CHECK (choice BETWEEN 1 AND 4),
  correct boolean NOT NULL DEFAULT false,
  points integer NOT NULL DEFAULT 0 CHECK (points BETWEEN 0 AND 1000),
  PRIMARY KEY (lobby_id, round_id, player_id),
  FOREIGN KEY (lobby_id, round_id) REFERENCES rounds (lobby_id, id) ON DELETE CASCADE,
  FOREIGN KEY (lobby_id, player_id) REFERENCES players (lobby_id, id) ON DELETE CASCADE,
  CONSTRAINT only_correct_scores CHECK (correct OR points = 0)
);

CREATE TABLE scores (
  lobby_id uuid NOT NULL,
  player_id integer NOT NULL,
  total integer NOT NULL DEFAULT 0 CHECK (total >= 0),
  streak integer NOT NULL DEFAULT 0 CHECK (streak BETWEEN 0 AND 100),
  best_streak integer NOT NULL DEFAULT 0,
  PRIMARY KEY (lobby_id, player_id),
  FOREIGN KEY (lobby_id, player_id) REFERENCES players (lobby_id, id) ON DELETE CASCADE,
  CONSTRAINT best_is_best CHECK (best_streak >= streak)
);
