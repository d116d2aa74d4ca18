ALTER TABLE github_connections ADD COLUMN default_branch text NOT NULL DEFAULT 'main';
