ALTER TABLE projects ADD COLUMN published_at timestamptz;
