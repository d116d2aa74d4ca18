ALTER TABLE deployments ADD COLUMN commit_sha text;
