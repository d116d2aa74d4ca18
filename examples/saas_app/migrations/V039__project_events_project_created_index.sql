CREATE INDEX project_events_project_id_created_at_idx ON project_events (project_id, created_at);
