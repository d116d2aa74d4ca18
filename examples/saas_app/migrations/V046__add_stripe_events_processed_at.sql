ALTER TABLE stripe_events ADD COLUMN processed_at timestamptz;
