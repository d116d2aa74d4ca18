CREATE TABLE projects (
    id bigserial PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users (id),
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
