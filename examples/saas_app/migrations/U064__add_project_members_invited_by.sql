ALTER TABLE project_members DROP COLUMN invited_by;
