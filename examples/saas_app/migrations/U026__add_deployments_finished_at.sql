ALTER TABLE deployments DROP COLUMN finished_at;
