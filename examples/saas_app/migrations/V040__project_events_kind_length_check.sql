ALTER TABLE project_events ADD CONSTRAINT project_events_kind_length_check
    CHECK (char_length(kind) BETWEEN 1 AND 64);
