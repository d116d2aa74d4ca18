CREATE INDEX stripe_events_type_idx ON stripe_events (type);
