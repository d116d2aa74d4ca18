ALTER TABLE stripe_events DROP COLUMN payload;
