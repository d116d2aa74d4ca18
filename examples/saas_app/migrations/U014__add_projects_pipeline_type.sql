ALTER TABLE projects DROP COLUMN pipeline_type;
