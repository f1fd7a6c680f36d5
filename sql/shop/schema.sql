-- The shop: customers, their orders, per-store stock and a fulfilment job queue.

CREATE TABLE customers (
  id varchar(32) PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
  id varchar(32) PRIMARY KEY,
  customer_id varchar(32) NOT NULL REFERENCES customers (id),
  status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'paid', 'shipped', 'cancelled')),
  total numeric(10, 2) NOT NULL CHECK (total >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE inventory (
  store text NOT NULL,
  sku varchar(32) NOT NULL,
  quantity integer NOT NULL DEFAULT 0 CHECK (quantity >= 0),
  PRIMARY KEY (store, sku)
);

CREATE TABLE fulfilment_jobs (
  id bigserial PRIMARY KEY,
  order_id varchar(32) NOT NULL REFERENCES orders (id),
  kind text NOT NULL CHECK (kind IN ('pick', 'ship')),
  attempts smallint NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND 3)
);
