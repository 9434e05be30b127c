import type { Db } from '#server/lib/db/client'

/**
 * The parts of destination deliveries (server/lib/destinations/deliveries.ts) that read the jobs
 * table: which completed jobs need delivery rows, which deliveries are due (their job completed),
 * and which lost their file. The `export_deliveries` rows themselves belong to the deliverer.
 */

/**
 * Makes the delivery rows of completed jobs that asked for destinations and have none yet: one job
 * (`jobId`), or every job completed in the last `lookbackMs` (the sweep). Destinations deleted
 * since the export was asked for, or not the job owner's, are skipped. Returns how many were made.
 */
export async function createDeliveryRows(db: Db, scope: { jobId: string } | { lookbackMs: number }): Promise<number> {
  const byJob = 'jobId' in scope
  const { rowCount } = await db.pool.query(
    `INSERT INTO export_deliveries (job_id, destination_id, position, name, type, status)
     SELECT j.id, d.id, ids.ord::int, d.name, d.type, 'pending'
     FROM jobs j
     CROSS JOIN LATERAL jsonb_array_elements_text(j.metadata->'destination_ids') WITH ORDINALITY AS ids(id, ord)
     JOIN destinations d ON d.id::text = ids.id AND d.user_id = j.user_id
     WHERE j.status = 'completed' AND jsonb_typeof(j.metadata->'destination_ids') = 'array'
       AND ${byJob ? 'j.id = $1::uuid' : 'j.completed_at >= now() - make_interval(secs => $1::double precision / 1000)'}
       AND NOT EXISTS (SELECT 1 FROM export_deliveries x WHERE x.job_id = j.id)
     ON CONFLICT (job_id, position) DO NOTHING`,
    [byJob ? scope.jobId : scope.lookbackMs]
  )
  return rowCount ?? 0
}

export interface ClaimedDelivery { id: string, job_id: string, destination_id: string | null, attempts: number, claim_id: string, type: string, name: string }

/**
 * Up to `limit` due deliveries of completed jobs (pending and due, or under way with a lapsed
 * lease: their process died), each claimed for `leaseMs` with a fresh fencing token.
 */
export async function claimDueDeliveries(db: Db, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const { rows } = await db.pool.query<ClaimedDelivery>(
    `WITH due AS (
       SELECT d.id FROM export_deliveries d JOIN jobs j ON j.id = d.job_id
       WHERE j.status = 'completed'
         AND ((d.status = 'pending' AND d.next_attempt_at <= now()) OR (d.status = 'delivering' AND d.lease_until <= now()))
       ORDER BY d.next_attempt_at, d.id
       LIMIT $1 FOR UPDATE OF d SKIP LOCKED
     )
     UPDATE export_deliveries d
     SET status = 'delivering', attempts = d.attempts + 1, claim_id = gen_random_uuid(),
         lease_until = now() + make_interval(secs => $2::double precision / 1000)
     FROM due WHERE d.id = due.id
     RETURNING d.id, d.job_id, d.destination_id, d.attempts, d.claim_id, d.type, d.name`,
    [limit, leaseMs]
  )
  return rows
}

/** Fails the deliveries whose job lost its file (expired, deleted) before they went out; returns their jobs. */
export async function failDeliveriesOfGoneFiles(db: Db): Promise<string[]> {
  const { rows } = await db.pool.query<{ job_id: string }>(
    `UPDATE export_deliveries d SET status = 'failed', error = 'The export''s file was removed before it could be delivered', lease_until = NULL
     FROM jobs j WHERE j.id = d.job_id AND d.status IN ('pending', 'delivering') AND j.status IN ('expired', 'deleted')
       AND (d.status = 'pending' OR d.lease_until <= now())
     RETURNING d.job_id`
  )
  return [...new Set(rows.map(r => r.job_id))]
}

/**
 * A completed job with deliveries is announced once each has had its first attempt (the message
 * says where the file went, or which delivery failed and is being retried), by the deliverer's
 * onJobSettled or a later sweep: waiting for every retry of a destination that is down would hold
 * the "export ready" message back for half an hour while the file is already downloadable.
 */
export const FIRST_DELIVERY_ATTEMPTS_DONE = `NOT EXISTS (SELECT 1 FROM export_deliveries d WHERE d.job_id = j.id
  AND (d.status = 'pending' AND d.attempts = 0 OR d.status = 'delivering' AND d.attempts = 1))`

/** Whether every delivery of the job has had its first attempt (FIRST_DELIVERY_ATTEMPTS_DONE). */
export async function firstDeliveryAttemptsDone(db: Db, jobId: string): Promise<boolean> {
  const { rows } = await db.pool.query(`SELECT 1 FROM jobs j WHERE j.id = $1 AND ${FIRST_DELIVERY_ATTEMPTS_DONE}`, [jobId])
  return rows.length > 0
}
