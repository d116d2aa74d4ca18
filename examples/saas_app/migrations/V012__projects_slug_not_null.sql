-- Rows from before slugs existed get a slug from their id, then the column is required.
UPDATE projects SET slug = 'project-' || id WHERE slug IS NULL;
ALTER TABLE projects ALTER COLUMN slug SET NOT NULL;
