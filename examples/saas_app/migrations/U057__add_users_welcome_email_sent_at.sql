ALTER TABLE users DROP COLUMN welcome_email_sent_at;
