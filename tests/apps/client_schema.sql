CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, plan text NOT NULL DEFAULT 'free',
                    is_superuser boolean NOT NULL DEFAULT false);
CREATE TABLE items (id serial PRIMARY KEY, owner text NOT NULL, name text NOT NULL);
