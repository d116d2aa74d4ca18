ALTER TABLE project_members ADD COLUMN invited_by bigint REFERENCES users (id);
