ALTER TABLE projects ADD COLUMN pipeline_type text NOT NULL DEFAULT 'static';
