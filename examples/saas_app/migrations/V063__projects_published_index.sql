CREATE INDEX projects_published_idx ON projects (published_at) WHERE published;
