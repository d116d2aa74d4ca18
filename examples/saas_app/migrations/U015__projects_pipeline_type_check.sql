ALTER TABLE projects DROP CONSTRAINT projects_pipeline_type_check;
