ALTER TABLE project_env_vars ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
