ALTER TABLE project_events ADD COLUMN user_id bigint REFERENCES users (id);
