ALTER TABLE github_connections DROP COLUMN default_branch;
