ALTER TABLE deployments DROP COLUMN commit_sha;
