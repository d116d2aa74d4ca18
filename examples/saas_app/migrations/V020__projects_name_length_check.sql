ALTER TABLE projects ADD CONSTRAINT projects_name_length_check CHECK (char_length(name) BETWEEN 1 AND 100);
