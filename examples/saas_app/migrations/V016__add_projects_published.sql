ALTER TABLE projects ADD COLUMN published boolean NOT NULL DEFAULT false;
