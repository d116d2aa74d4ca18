ALTER TABLE deployments ADD COLUMN error text;
