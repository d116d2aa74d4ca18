CREATE INDEX github_connections_user_id_idx ON github_connections (user_id);
