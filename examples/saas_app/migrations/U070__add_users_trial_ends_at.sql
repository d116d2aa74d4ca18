ALTER TABLE users DROP COLUMN trial_ends_at;
