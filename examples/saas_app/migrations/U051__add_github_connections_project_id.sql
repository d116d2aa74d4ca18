ALTER TABLE github_connections DROP COLUMN project_id;
