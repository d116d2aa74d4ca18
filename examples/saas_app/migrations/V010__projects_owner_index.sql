CREATE INDEX projects_owner_id_idx ON projects (owner_id);
