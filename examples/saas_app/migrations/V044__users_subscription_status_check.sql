ALTER TABLE users ADD CONSTRAINT users_subscription_status_check
    CHECK (subscription_status IN ('none', 'trialing', 'active', 'past_due', 'canceled'));
