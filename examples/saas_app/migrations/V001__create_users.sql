CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    password_hash text,
    created_at timestamptz NOT NULL DEFAULT now()
);
