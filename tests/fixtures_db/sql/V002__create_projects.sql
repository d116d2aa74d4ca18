CREATE TYPE env_kind AS ENUM ('dev', 'staging', 'prod');

CREATE TABLE projects (
    id bigserial PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name varchar(80) NOT NULL,
    slug text NOT NULL UNIQUE,
    published boolean NOT NULL DEFAULT false
);

CREATE TABLE deployments (
    id bigserial PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    state text NOT NULL DEFAULT 'queued'
);

CREATE TABLE project_env_vars (
    id bigserial PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind env_kind NOT NULL,
    name text NOT NULL,
    value text
);
