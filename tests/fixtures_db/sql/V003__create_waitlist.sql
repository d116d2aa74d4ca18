CREATE TABLE waitlist (
    id bigserial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'pending'
        CONSTRAINT waitlist_status_check CHECK (status IN ('pending', 'approved', 'rejected')),
    note varchar(200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX waitlist_status_idx ON waitlist (status);
