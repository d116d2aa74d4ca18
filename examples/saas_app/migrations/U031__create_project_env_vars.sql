DROP TABLE project_env_vars;
