ALTER TABLE project_env_vars ADD COLUMN is_secret boolean NOT NULL DEFAULT false;
