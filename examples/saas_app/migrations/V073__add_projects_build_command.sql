ALTER TABLE projects ADD COLUMN build_command text;
