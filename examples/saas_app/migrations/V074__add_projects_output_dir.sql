ALTER TABLE projects ADD COLUMN output_dir text;
