ALTER TABLE deployments ADD CONSTRAINT deployments_status_check
    CHECK (status IN ('queued', 'building', 'live', 'failed', 'cancelled'));
