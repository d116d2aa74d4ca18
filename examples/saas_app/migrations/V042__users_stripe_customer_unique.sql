CREATE UNIQUE INDEX users_stripe_customer_id_key ON users (stripe_customer_id)
    WHERE stripe_customer_id IS NOT NULL;
