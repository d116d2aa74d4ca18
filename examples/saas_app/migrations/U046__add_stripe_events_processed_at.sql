ALTER TABLE stripe_events DROP COLUMN processed_at;
