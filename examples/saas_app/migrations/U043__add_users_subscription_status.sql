ALTER TABLE users DROP COLUMN subscription_status;
