ALTER TABLE project_env_vars ADD COLUMN environment text NOT NULL DEFAULT 'production';
