ALTER TABLE project_env_vars DROP COLUMN is_secret;
