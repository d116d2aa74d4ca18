ALTER TABLE project_events ADD COLUMN payload jsonb NOT NULL DEFAULT '{}'::jsonb;
