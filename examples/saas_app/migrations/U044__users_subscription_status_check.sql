ALTER TABLE users DROP CONSTRAINT users_subscription_status_check;
