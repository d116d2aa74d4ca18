ALTER TABLE deployments ADD COLUMN url text;
