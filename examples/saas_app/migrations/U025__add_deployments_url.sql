ALTER TABLE deployments DROP COLUMN url;
