ALTER TABLE users ADD CONSTRAINT users_email_format_check CHECK (position('@' IN email) > 1);
