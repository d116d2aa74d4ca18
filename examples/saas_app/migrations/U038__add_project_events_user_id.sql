ALTER TABLE project_events DROP COLUMN user_id;
