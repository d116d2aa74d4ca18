ALTER TABLE github_connections ADD COLUMN project_id bigint REFERENCES projects (id);
