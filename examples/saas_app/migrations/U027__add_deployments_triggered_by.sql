ALTER TABLE deployments DROP COLUMN triggered_by;
