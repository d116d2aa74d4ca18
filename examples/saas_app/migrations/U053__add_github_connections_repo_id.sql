ALTER TABLE github_connections DROP COLUMN repo_id;
