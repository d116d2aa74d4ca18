ALTER TABLE projects ADD CONSTRAINT projects_pipeline_type_check CHECK (pipeline_type IN ('static', 'docker'));
