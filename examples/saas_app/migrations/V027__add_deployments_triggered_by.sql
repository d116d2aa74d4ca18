ALTER TABLE deployments ADD COLUMN triggered_by bigint REFERENCES users (id);
