CREATE UNIQUE INDEX github_connections_project_id_key ON github_connections (project_id)
    WHERE project_id IS NOT NULL;
