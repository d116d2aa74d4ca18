ALTER TABLE projects ADD COLUMN slug text;
