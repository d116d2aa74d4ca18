ALTER TABLE project_env_vars ADD CONSTRAINT project_env_vars_environment_check
    CHECK (environment IN ('production', 'preview', 'development'));
