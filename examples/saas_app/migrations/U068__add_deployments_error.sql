ALTER TABLE deployments DROP COLUMN error;
