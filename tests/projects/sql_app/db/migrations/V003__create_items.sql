/* Items: a price range, a name length, and a rule xaio init does not read. */
CREATE TABLE items (
    id serial PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users (id),
    name text NOT NULL,
    price integer NOT NULL,
    email text,
    CONSTRAINT items_price_range CHECK (price BETWEEN 0 AND 1000),
    CHECK (length(name) <= 40),
    CHECK (lower(email) = email)
);
