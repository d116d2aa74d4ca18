ALTER TABLE projects ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
