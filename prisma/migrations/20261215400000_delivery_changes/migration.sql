-- A job's deliveries are part of its DTO, so a change of one is a change of the job for the event
-- streams (GET /api/analytics/exports/events): every statement that adds deliveries or changes what
-- one shows (not its lease) announces its jobs as announceJobChange() does, whichever code path
-- made it. The jobs are locked in id order first, so two statements over the same jobs cannot
-- deadlock on them.
CREATE FUNCTION outport_deliveries_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed UUID[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT n.job_id) INTO changed FROM new_rows n;
  ELSE
    SELECT array_agg(DISTINCT n.job_id) INTO changed FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE (o.status, o.attempts, o.location, o.error, o.delivered_at, o.next_attempt_at)
      IS DISTINCT FROM (n.status, n.attempts, n.location, n.error, n.delivered_at, n.next_attempt_at);
  END IF;
  IF changed IS NOT NULL THEN
    PERFORM 1 FROM jobs WHERE id = ANY (changed) ORDER BY id FOR UPDATE;
    -- -1 differs from every stored number, so jobs_change_update fires and numbers the change.
    UPDATE jobs SET change_seq = -1 WHERE id = ANY (changed);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER export_deliveries_change_insert AFTER INSERT ON "export_deliveries"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION outport_deliveries_changed();

CREATE TRIGGER export_deliveries_change_update AFTER UPDATE ON "export_deliveries"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION outport_deliveries_changed();
