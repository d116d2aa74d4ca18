ALTER TABLE project_env_vars ADD CONSTRAINT project_env_vars_project_id_key_key UNIQUE (project_id, key);
