DROP TABLE github_connections;
