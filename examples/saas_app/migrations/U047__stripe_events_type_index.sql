DROP INDEX stripe_events_type_idx;
