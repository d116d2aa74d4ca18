ALTER TABLE github_connections ADD COLUMN repo_id bigint;
