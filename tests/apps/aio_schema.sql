CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE items (id serial PRIMARY KEY, owner text NOT NULL, name text NOT NULL UNIQUE);
