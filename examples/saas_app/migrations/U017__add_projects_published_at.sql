ALTER TABLE projects DROP COLUMN published_at;
