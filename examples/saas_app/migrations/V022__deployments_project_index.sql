CREATE INDEX deployments_project_id_idx ON deployments (project_id);
