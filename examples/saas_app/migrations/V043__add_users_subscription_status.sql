ALTER TABLE users ADD COLUMN subscription_status text NOT NULL DEFAULT 'none';
