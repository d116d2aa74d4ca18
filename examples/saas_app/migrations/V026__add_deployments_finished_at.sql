ALTER TABLE deployments ADD COLUMN finished_at timestamptz;
