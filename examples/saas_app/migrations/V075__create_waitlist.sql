CREATE TABLE waitlist (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    name text,
    status text NOT NULL DEFAULT 'pending',
    user_id bigint REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT waitlist_status_check
        CHECK (status IN ('pending', 'approved', 'rejected', 'waitlist', 'contacted'))
);
CREATE UNIQUE INDEX waitlist_email_lower_key ON waitlist (lower(email));
