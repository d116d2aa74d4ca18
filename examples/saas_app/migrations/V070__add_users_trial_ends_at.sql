ALTER TABLE users ADD COLUMN trial_ends_at timestamptz;
