ALTER TABLE users DROP COLUMN stripe_subscription_id;
