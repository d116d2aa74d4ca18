ALTER TABLE github_connections ADD COLUMN webhook_id bigint;
