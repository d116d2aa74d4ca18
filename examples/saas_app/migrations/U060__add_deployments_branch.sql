ALTER TABLE deployments DROP COLUMN branch;
