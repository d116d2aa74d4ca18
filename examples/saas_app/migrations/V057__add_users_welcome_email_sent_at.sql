ALTER TABLE users ADD COLUMN welcome_email_sent_at timestamptz;
