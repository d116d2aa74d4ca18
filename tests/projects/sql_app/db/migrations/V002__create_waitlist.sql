CREATE TYPE waitlist_source AS ENUM ('web', 'referral');

CREATE TABLE waitlist (
    id serial PRIMARY KEY,
    email text NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    source waitlist_source,
    position integer CHECK (position >= 1),
    CONSTRAINT waitlist_status_check CHECK (status IN ('pending', 'approved', 'rejected'))
);
