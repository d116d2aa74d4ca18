ALTER TABLE users DROP CONSTRAINT users_email_format_check;
