DROP INDEX projects_published_idx;
