ALTER TABLE users ADD COLUMN is_active boolean NOT NULL DEFAULT true;
