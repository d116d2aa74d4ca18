ALTER TABLE stripe_events ADD COLUMN payload jsonb;
