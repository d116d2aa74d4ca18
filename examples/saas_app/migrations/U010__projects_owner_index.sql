DROP INDEX projects_owner_id_idx;
