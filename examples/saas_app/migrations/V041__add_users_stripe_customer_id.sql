ALTER TABLE users ADD COLUMN stripe_customer_id text;
