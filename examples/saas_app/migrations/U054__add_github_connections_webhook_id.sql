ALTER TABLE github_connections DROP COLUMN webhook_id;
