-- A user deleted the export: its file is gone from S3 and the job stays in the history as `deleted`.
-- PostgreSQL 12+ allows ADD VALUE inside the migration's transaction as long as the new value is not
-- used in that same transaction (nothing below uses it).
ALTER TYPE "job_status" ADD VALUE 'deleted';

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "deleted_at" TIMESTAMPTZ(3);
