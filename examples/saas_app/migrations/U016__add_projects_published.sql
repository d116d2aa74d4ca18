ALTER TABLE projects DROP COLUMN published;
