-- Live export status (GET /api/analytics/exports/events, server/lib/exports/events.ts). Every
-- change of a job that its DTO shows takes the next value of its user's counter and announces
-- itself on the channel outport_export_changes. The counter's row stays locked until the change
-- commits, so one user's changes commit in counter order: a stream that saw event N and resumes
-- with Last-Event-ID N gets every job whose change_seq > N, and no later commit can bring a
-- smaller number.
ALTER TABLE "jobs" ADD COLUMN "change_seq" BIGINT NOT NULL DEFAULT 0;

CREATE INDEX "jobs_user_id_change_seq_idx" ON "jobs"("user_id", "change_seq");

CREATE TABLE "job_change_counters" (
    "user_id" UUID NOT NULL,
    "last_seq" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "job_change_counters_pkey" PRIMARY KEY ("user_id")
);

ALTER TABLE "job_change_counters" ADD CONSTRAINT "job_change_counters_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The notice carries the row as this change left it (without the request's idempotency data), so
-- each event shows its own change even when the next one commits before the listener reads it;
-- a row too large for a notice (8000 bytes: filters with many values) is announced by its ids
-- alone and read by the listener.
CREATE FUNCTION outport_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  head TEXT;
  body TEXT;
BEGIN
  INSERT INTO job_change_counters AS c (user_id, last_seq) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET last_seq = c.last_seq + 1
    RETURNING c.last_seq INTO NEW.change_seq;
  head := NEW.user_id::text || ' ' || NEW.id::text || ' ' || NEW.change_seq::text;
  body := (to_jsonb(NEW) - 'idempotency_key' - 'request_hash')::text;
  -- Delivered at commit, dropped on rollback.
  PERFORM pg_notify('outport_export_changes', CASE WHEN octet_length(body) < 7800 THEN head || ' ' || body ELSE head END);
  RETURN NEW;
END
$$;

CREATE TRIGGER jobs_change_insert BEFORE INSERT ON "jobs"
  FOR EACH ROW EXECUTE FUNCTION outport_job_changed();

-- Only what the DTO shows: lease renewals (locked_until, updated_at) are not changes. Setting
-- change_seq itself (announceJobChange() in server/lib/exports/jobs/changes.ts) is how a change
-- kept in another table (a job's deliveries) announces the job.
CREATE TRIGGER jobs_change_update BEFORE UPDATE ON "jobs"
  FOR EACH ROW
  WHEN ((OLD.status, OLD.metadata, OLD.progress, OLD.error, OLD.attempts, OLD.started_at, OLD.completed_at, OLD.deleted_at, OLD.schedule_id, OLD.change_seq)
    IS DISTINCT FROM (NEW.status, NEW.metadata, NEW.progress, NEW.error, NEW.attempts, NEW.started_at, NEW.completed_at, NEW.deleted_at, NEW.schedule_id, NEW.change_seq))
  EXECUTE FUNCTION outport_job_changed();
