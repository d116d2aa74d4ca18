ALTER TABLE project_events DROP COLUMN payload;
