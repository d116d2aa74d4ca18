DROP TABLE project_env_vars;
DROP TABLE deployments;
DROP TABLE projects;
DROP TYPE env_kind;
