CREATE TABLE project_env_vars (
    id bigserial PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id),
    key text NOT NULL,
    value text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
