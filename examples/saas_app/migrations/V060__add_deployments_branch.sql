ALTER TABLE deployments ADD COLUMN branch text;
