ALTER TABLE deployments DROP CONSTRAINT deployments_status_check;
