ALTER TABLE projects DROP COLUMN updated_at;
