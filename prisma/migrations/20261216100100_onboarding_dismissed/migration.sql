-- When the user closed the datasets page's "Get started" card; null while it shows. The steps
-- themselves are read from the user's own rows (jobs, schedules, tokens, channels), never stored.
ALTER TABLE "users" ADD COLUMN "onboarding_dismissed_at" TIMESTAMPTZ(3);
