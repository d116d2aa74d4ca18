ALTER TABLE project_env_vars DROP COLUMN environment;
