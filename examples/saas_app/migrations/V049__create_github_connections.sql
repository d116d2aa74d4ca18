CREATE TABLE github_connections (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    repo_full_name text NOT NULL,
    access_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
