CREATE TABLE project_events (
    id bigserial PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id),
    kind text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
