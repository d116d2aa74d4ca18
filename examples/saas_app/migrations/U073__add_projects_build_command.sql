ALTER TABLE projects DROP COLUMN build_command;
