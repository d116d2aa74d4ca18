ALTER TABLE project_env_vars ADD CONSTRAINT project_env_vars_key_format_check
    CHECK (key ~ '^[A-Z_][A-Z0-9_]*$');
