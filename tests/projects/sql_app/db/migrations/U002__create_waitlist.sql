DROP TABLE waitlist;
DROP TYPE waitlist_source;
