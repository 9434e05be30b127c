import type { Db } from '#server/lib/db/client'
import { Prisma, type Job as JobRow } from '#server/generated/prisma/client'
import type { ExportError, ExportProgress, ExportResult } from '#shared/types/exports'
import type { JobStatus } from '#shared/types/jobs'
import { advanceWatermark } from './incremental'
import { JOB_COLUMNS, json, QUEUED_PROGRESS, toExportJob, type ExportJob } from './record'

/**
 * The export job queue in PostgreSQL, as the worker sees it. A job is claimed with FOR UPDATE SKIP
 * LOCKED, so any number of workers in any number of processes can claim concurrently without a job
 * being taken twice. A running job holds a lease (locked_until) that its worker renews, and every
 * claim gets its own `claim_id`: each write of a run (lease renewal, progress, completion, failure)
 * is conditional on that claim still being the job's. A run that lost its job — its worker stalled
 * past the lease, or was cut off from the database, even when the same process reclaimed the job —
 * can therefore change nothing the winning run did.
 */

/** Notified on every new job: wakes idle workers. */
export const JOBS_CHANNEL = 'outport_jobs'
/** Carries the id of a job cancelled while running, so the worker holding it stops at once. */
export const CANCEL_CHANNEL = 'outport_cancel'

/** One run's hold on a job. */
export interface Claim { jobId: string, claimId: string }

/**
 * A claimed job: running, with the claim its run must present. `reclaimed`: it was taken over from
 * a worker whose lease lapsed rather than picked up from the queue.
 */
export type ClaimedJob = ExportJob & { claimId: string, reclaimed?: boolean }

export function claimOf(job: ClaimedJob): Claim {
  return { jobId: job.id, claimId: job.claimId }
}

export type CancelOutcome
  = | { outcome: 'cancelled', previous: 'pending' | 'running' }
    | { outcome: 'final', status: JobStatus }
    | { outcome: 'not_found' }

/**
 * Cancels the user's job if it is still pending or running. A running job becomes `cancelled` at
 * once (its claim is gone, so its worker can no longer complete it) and its worker is told over
 * CANCEL_CHANNEL to stop and clean up.
 */
export async function cancelJob(db: Db, userId: string, jobId: string): Promise<CancelOutcome> {
  const rows = await db.$queryRaw<Array<{ previous: 'pending' | 'running' }>>`
    WITH target AS (
      SELECT id, status FROM jobs
      WHERE id = ${jobId}::uuid AND user_id = ${userId}::uuid AND status IN ('pending', 'running')
      FOR UPDATE
    ), cancelled AS (
      UPDATE jobs SET status = 'cancelled', completed_at = now(), locked_by = NULL, locked_until = NULL, claim_id = NULL, updated_at = now()
      FROM target WHERE jobs.id = target.id
      RETURNING jobs.id, target.status::text AS previous
    )
    SELECT previous, pg_notify(${CANCEL_CHANNEL}, id::text)::text AS notified FROM cancelled`
  if (rows[0]) return { outcome: 'cancelled', previous: rows[0].previous }
  const job = await db.job.findFirst({ where: { id: jobId, userId }, select: { status: true } })
  return job ? { outcome: 'final', status: job.status } : { outcome: 'not_found' }
}

export const WORKER_LOST: ExportError = {
  code: 'WORKER_LOST',
  message: 'The export stopped unexpectedly on every attempt (its worker was lost, for example out of memory), so it was not tried again. Try a smaller date range or fewer rows, or contact support.'
}

/**
 * Fails running jobs whose lease expired on their last allowed attempt: their worker died during
 * each one (a crash loop: out of memory, a native crash), so claiming them again would only kill
 * another worker. Returns the ids failed.
 */
export async function failLostJobs(db: Db, maxAttempts: number): Promise<string[]> {
  const rows = await db.$queryRaw<Array<{ id: string }>>`
    UPDATE jobs SET status = 'failed', error = ${JSON.stringify(WORKER_LOST)}::jsonb, completed_at = now(),
      locked_by = NULL, locked_until = NULL, claim_id = NULL, updated_at = now()
    WHERE status = 'running' AND locked_until < now() AND attempts >= ${maxAttempts}
    RETURNING id`
  return rows.map(r => r.id)
}

/**
 * Claims up to `limit` jobs, oldest first: pending ones whose run_at has come, and running ones
 * whose lease expired (their worker died or stalled; `reclaimed` says which). Every claim counts as
 * an attempt.
 */
export async function claimJobs(db: Db, workerId: string, limit: number, leaseMs: number): Promise<ClaimedJob[]> {
  if (limit <= 0) return []
  // On the pg pool, which returns timestamps as Dates and JSONB parsed, as Prisma does. The
  // sub-select's columns are renamed so the RETURNING list's plain column names stay unambiguous.
  const { rows } = await db.pool.query<JobRow & { reclaimed: boolean }>(`
    UPDATE jobs SET
      status = 'running',
      attempts = attempts + 1,
      locked_by = $1,
      locked_until = now() + make_interval(secs => $2),
      claim_id = gen_random_uuid(),
      started_at = now(),
      updated_at = now()
    FROM (
      SELECT id AS picked_id, status AS picked_status FROM jobs
      WHERE (status = 'pending' AND run_at <= now())
         OR (status = 'running' AND locked_until < now())
      ORDER BY run_at, created_at
      LIMIT $3
      FOR UPDATE SKIP LOCKED
    ) AS picked
    WHERE jobs.id = picked.picked_id
    RETURNING ${JOB_COLUMNS}, picked_status = 'running' AS reclaimed`, [workerId, leaseMs / 1000, limit])
  return rows.map(row => ({ ...toExportJob(row), claimId: row.claimId!, reclaimed: row.reclaimed }))
    .sort((a, b) => a.runAt.getTime() - b.runAt.getTime() || a.createdAt.getTime() - b.createdAt.getTime())
}

function held(claim: Claim) {
  return { id: claim.jobId, claimId: claim.claimId, status: 'running' as const }
}

/** Extends the lease; false when the claim is no longer the job's (cancelled, reclaimed). */
export async function renewLease(db: Db, claim: Claim, leaseMs: number): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: held(claim),
    data: { lockedUntil: new Date(Date.now() + leaseMs) }
  })
  return count === 1
}

/** Whether the claim is still the job's: asked right before a run does something irreversible. */
export async function holdsClaim(db: Db, claim: Claim): Promise<boolean> {
  return (await db.job.count({ where: held(claim) })) === 1
}

/** Of these claims, the ones still held (by claim id). */
export async function heldClaimIds(db: Db, claimIds: string[]): Promise<Set<string>> {
  const rows = await db.job.findMany({ where: { claimId: { in: claimIds }, status: 'running' }, select: { claimId: true } })
  return new Set(rows.map(r => r.claimId!))
}

export async function reportProgress(db: Db, claim: Claim, progress: ExportProgress): Promise<boolean> {
  const { count } = await db.job.updateMany({ where: held(claim), data: { progress: json(progress) } })
  return count === 1
}

const RELEASED = { lockedBy: null, lockedUntil: null, claimId: null } as const

/**
 * Records the run's file. An incremental schedule's run also moves the schedule's watermark, in the
 * same transaction: the watermark moves if and only if the run completed.
 */
export async function completeJob(db: Db, job: ClaimedJob, result: Partial<ExportResult>, progress: ExportProgress): Promise<boolean> {
  const { incremental } = job.metadata
  if (!incremental || !job.scheduleId) return recordCompletion(db, job, result, progress)
  const scheduleId = job.scheduleId
  return db.$transaction(async (tx) => {
    const completed = await recordCompletion(tx, job, result, progress)
    if (completed) await advanceWatermark(tx, scheduleId, incremental)
    return completed
  })
}

async function recordCompletion(db: Db | Prisma.TransactionClient, job: ClaimedJob, result: Partial<ExportResult>, progress: ExportProgress): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: held(claimOf(job)),
    data: {
      status: 'completed',
      metadata: json({ ...job.metadata, ...result }),
      progress: json(progress),
      // A retried job that succeeded no longer has an error (undefined would leave the last one).
      error: Prisma.DbNull,
      completedAt: new Date(),
      ...RELEASED
    }
  })
  return count === 1
}

/** Fails the job for good, or (retryAt given) puts it back in the queue for a later attempt. */
export async function failJob(db: Db, claim: Claim, error: ExportError, retryAt?: Date): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: held(claim),
    data: retryAt
      ? { status: 'pending', runAt: retryAt, error: json(error), progress: json(QUEUED_PROGRESS), ...RELEASED }
      : { status: 'failed', error: json(error), completedAt: new Date(), ...RELEASED }
  })
  return count === 1
}

/**
 * Puts a claimed job back in the queue until `runAt` without counting the claim as an attempt: an
 * incremental run that found another run of its schedule under way waits for it.
 */
export async function deferJob(db: Db, claim: Claim, runAt: Date): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: held(claim),
    data: { status: 'pending', runAt, attempts: { decrement: 1 }, progress: json(QUEUED_PROGRESS), ...RELEASED }
  })
  return count === 1
}

/** Gives running jobs back to the queue at once (graceful shutdown): another worker resumes them. */
export async function releaseJobs(db: Db, claims: Claim[]): Promise<number> {
  if (!claims.length) return 0
  const { count } = await db.job.updateMany({
    where: { claimId: { in: claims.map(c => c.claimId) }, status: 'running' },
    // The interrupted run was not a failed attempt.
    data: { status: 'pending', runAt: new Date(), attempts: { decrement: 1 }, progress: json(QUEUED_PROGRESS), ...RELEASED }
  })
  return count
}

/**
 * Whether the job is completed with `key` as its file. A run whose completion was refused asks
 * this before removing its object: a completion that committed but whose answer was lost (and was
 * refused when retried) recorded the object after all.
 */
export async function completedWith(db: Db, jobId: string, key: string): Promise<boolean> {
  return (await db.job.count({ where: { id: jobId, status: 'completed', metadata: { path: ['s3_key'], equals: key } } })) === 1
}
