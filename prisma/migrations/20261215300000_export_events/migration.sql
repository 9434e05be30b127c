-- Live export status (GET /api/analytics/exports/events, server/lib/exports/events.ts). Every
-- change of a job that its DTO shows takes the next number of one sequence (the job's changes are
-- numbered in order: its row lock orders them) and records its transaction's id, and is announced
-- on the channel outport_export_changes at commit with the row as it left it and the xmin of the
-- snapshot its statement runs under. A change that commits after an event was sent was still in
-- progress (or not begun) when that event's statement took its snapshot, so its transaction id is
-- at least that xmin: a stream that resumes from an event replays the user's jobs whose
-- change_xid >= its xmin and misses nothing. No lock is held for the numbering, so transactions
-- that change several users' jobs cannot deadlock on it.
ALTER TABLE "jobs" ADD COLUMN "change_seq" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN "change_xid" BIGINT NOT NULL DEFAULT 0;

CREATE INDEX "jobs_user_id_change_xid_idx" ON "jobs"("user_id", "change_xid");

CREATE SEQUENCE job_change_seq;

-- The notice: `<user id> <job id> <seq> <xmin> <row as JSON>` (the row without the request's
-- idempotency data), so each event shows its own change even when the next one commits before the
-- listener reads it; a row too large for a notice (8000 bytes: filters with many values) is
-- announced without its JSON and read by the listener.
CREATE FUNCTION outport_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  horizon BIGINT := pg_snapshot_xmin(pg_current_snapshot())::text::bigint;
  head TEXT;
  body TEXT;
BEGIN
  NEW.change_xid := pg_current_xact_id()::text::bigint;
  NEW.change_seq := nextval('job_change_seq');
  head := NEW.user_id::text || ' ' || NEW.id::text || ' ' || NEW.change_seq::text || ' ' || horizon::text;
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
