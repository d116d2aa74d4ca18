ALTER TABLE projects ADD CONSTRAINT projects_owner_id_slug_key UNIQUE (owner_id, slug);
