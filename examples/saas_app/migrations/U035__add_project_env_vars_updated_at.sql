ALTER TABLE project_env_vars DROP COLUMN updated_at;
