-- How an export came about, for the history's source column and filter: `manual` (a signed-in
-- browser session), `api` (an API token), `schedule` (a schedule's run, backfills included).
-- Existing jobs cannot tell a session from a token any more: those outside a schedule count as
-- manual. A run whose schedule was deleted (schedule_id set to NULL) still has its schedule info in
-- the metadata. The default keeps inserts from before this column (tests, seeding) valid.
ALTER TABLE "jobs" ADD COLUMN "source" TEXT NOT NULL DEFAULT 'manual';

UPDATE "jobs" SET "source" = 'schedule' WHERE "schedule_id" IS NOT NULL OR "metadata" ? 'schedule';

ALTER TABLE "jobs" ADD CONSTRAINT "jobs_source_check" CHECK ("source" IN ('manual', 'api', 'schedule'));
