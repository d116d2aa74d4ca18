ALTER TABLE users ADD COLUMN is_superuser boolean NOT NULL DEFAULT false;
