-- Incremental schedules: the watermark (microseconds since the epoch, the warehouse's precision)
-- and the slots skipped because the previous run was still running.
ALTER TABLE "schedules" ADD COLUMN "watermark_us" BIGINT;
ALTER TABLE "schedules" ADD COLUMN "missed_slots" INTEGER NOT NULL DEFAULT 0;

-- Backfills: a schedule run for its past slots; the slots wait here and become jobs one at a time.
CREATE TABLE "schedule_backfills" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "schedule_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "start_at" TIMESTAMPTZ(3) NOT NULL,
    "end_at" TIMESTAMPTZ(3) NOT NULL,
    "slot_count" INTEGER NOT NULL,
    "cancelled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "schedule_backfills_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "backfill_slots" (
    "schedule_id" UUID NOT NULL,
    "slot" TIMESTAMPTZ(3) NOT NULL,
    "backfill_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "job_id" UUID,

    CONSTRAINT "backfill_slots_pkey" PRIMARY KEY ("schedule_id","slot")
);

CREATE INDEX "schedule_backfills_schedule_id_created_at_idx" ON "schedule_backfills"("schedule_id", "created_at");

CREATE UNIQUE INDEX "backfill_slots_job_id_key" ON "backfill_slots"("job_id");

CREATE INDEX "backfill_slots_user_id_job_id_slot_idx" ON "backfill_slots"("user_id", "job_id", "slot");

CREATE INDEX "backfill_slots_backfill_id_idx" ON "backfill_slots"("backfill_id");

ALTER TABLE "schedule_backfills" ADD CONSTRAINT "schedule_backfills_schedule_id_fkey" FOREIGN KEY ("schedule_id") REFERENCES "schedules"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "schedule_backfills" ADD CONSTRAINT "schedule_backfills_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "backfill_slots" ADD CONSTRAINT "backfill_slots_backfill_id_fkey" FOREIGN KEY ("backfill_id") REFERENCES "schedule_backfills"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "backfill_slots" ADD CONSTRAINT "backfill_slots_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE SET NULL ON UPDATE CASCADE;
