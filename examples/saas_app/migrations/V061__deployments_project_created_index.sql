CREATE INDEX deployments_project_id_created_at_idx ON deployments (project_id, created_at DESC);
