DROP TABLE project_events;
