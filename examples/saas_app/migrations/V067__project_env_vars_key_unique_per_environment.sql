-- One value per key and environment, instead of one per key.
ALTER TABLE project_env_vars DROP CONSTRAINT project_env_vars_project_id_key_key;
ALTER TABLE project_env_vars ADD CONSTRAINT project_env_vars_project_id_environment_key_key
    UNIQUE (project_id, environment, key);
