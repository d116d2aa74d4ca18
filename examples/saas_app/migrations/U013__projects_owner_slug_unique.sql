ALTER TABLE projects DROP CONSTRAINT projects_owner_id_slug_key;
