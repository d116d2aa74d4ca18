ALTER TABLE github_connections ADD CONSTRAINT github_connections_repo_format_check
    CHECK (repo_full_name ~ '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$');
