ALTER TABLE users DROP COLUMN stripe_customer_id;
