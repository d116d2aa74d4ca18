ALTER TABLE projects ADD COLUMN description text;
