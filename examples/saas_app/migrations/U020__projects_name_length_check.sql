ALTER TABLE projects DROP CONSTRAINT projects_name_length_check;
