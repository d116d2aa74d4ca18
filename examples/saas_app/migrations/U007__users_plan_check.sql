ALTER TABLE users DROP CONSTRAINT users_plan_check;
