import type { Db } from '../../db/client'
import { Prisma, type Job as JobRow } from '../../../generated/prisma/client'
import type { ExportError, ExportProgress, ExportResult } from '../../../../shared/types/exports'
import type { JobStatus } from '../../../../shared/types/jobs'
import { JOB_COLUMNS, json, QUEUED_PROGRESS, toExportJob, type ExportJob } from './record'

/**
 * The export job queue in PostgreSQL, as the worker sees it. A job is claimed with FOR UPDATE SKIP
 * LOCKED, so any number of workers in any number of processes can claim concurrently without a job
 * being taken twice. A running job holds a lease (locked_by, locked_until) that its worker renews;
 * every write a worker makes is conditional on still holding it, so a worker that lost its job
 * cannot clobber the work of the worker that reclaimed it.
 */

/** Notified on every new job: wakes idle workers. */
export const JOBS_CHANNEL = 'outport_jobs'
/** Carries the id of a job cancelled while running, so the worker holding it stops at once. */
export const CANCEL_CHANNEL = 'outport_cancel'

export type CancelOutcome
  = | { outcome: 'cancelled', previous: 'pending' | 'running' }
    | { outcome: 'final', status: JobStatus }
    | { outcome: 'not_found' }

/**
 * Cancels the user's job if it is still pending or running. A running job becomes `cancelled` at
 * once (its lease is gone, so its worker can no longer complete it) and its worker is told over
 * CANCEL_CHANNEL to stop and clean up.
 */
export async function cancelJob(db: Db, userId: string, jobId: string): Promise<CancelOutcome> {
  const rows = await db.$queryRaw<Array<{ previous: 'pending' | 'running' }>>`
    WITH target AS (
      SELECT id, status FROM jobs
      WHERE id = ${jobId}::uuid AND user_id = ${userId}::uuid AND status IN ('pending', 'running')
      FOR UPDATE
    ), cancelled AS (
      UPDATE jobs SET status = 'cancelled', completed_at = now(), locked_by = NULL, locked_until = NULL, updated_at = now()
      FROM target WHERE jobs.id = target.id
      RETURNING jobs.id, target.status::text AS previous
    )
    SELECT previous, pg_notify(${CANCEL_CHANNEL}, id::text)::text AS notified FROM cancelled`
  if (rows[0]) return { outcome: 'cancelled', previous: rows[0].previous }
  const job = await db.job.findFirst({ where: { id: jobId, userId }, select: { status: true } })
  return job ? { outcome: 'final', status: job.status } : { outcome: 'not_found' }
}

/**
 * Claims up to `limit` jobs, oldest first: pending ones whose run_at has come, and running ones
 * whose lease expired (their worker died).
 */
export async function claimJobs(db: Db, workerId: string, limit: number, leaseMs: number): Promise<ExportJob[]> {
  if (limit <= 0) return []
  // On the pg pool, which returns timestamps as Dates and JSONB parsed, as Prisma does.
  const { rows } = await db.pool.query<JobRow>(`
    UPDATE jobs SET
      status = 'running',
      attempts = attempts + 1,
      locked_by = $1,
      locked_until = now() + make_interval(secs => $2),
      started_at = now(),
      updated_at = now()
    WHERE id IN (
      SELECT id FROM jobs
      WHERE (status = 'pending' AND run_at <= now())
         OR (status = 'running' AND locked_until < now())
      ORDER BY run_at, created_at
      LIMIT $3
      FOR UPDATE SKIP LOCKED
    )
    RETURNING ${JOB_COLUMNS}`, [workerId, leaseMs / 1000, limit])
  return rows.map(toExportJob).sort((a, b) => a.runAt.getTime() - b.runAt.getTime() || a.createdAt.getTime() - b.createdAt.getTime())
}

function held(jobId: string, workerId: string) {
  return { id: jobId, lockedBy: workerId, status: 'running' as const }
}

/** Extends the lease; false when the job is no longer this worker's (cancelled, reclaimed). */
export async function renewLease(db: Db, jobId: string, workerId: string, leaseMs: number): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: held(jobId, workerId),
    data: { lockedUntil: new Date(Date.now() + leaseMs) }
  })
  return count === 1
}

/** Of these jobs, the ones this worker still holds. */
export async function heldJobIds(db: Db, workerId: string, jobIds: string[]): Promise<Set<string>> {
  const rows = await db.job.findMany({ where: { id: { in: jobIds }, status: 'running', lockedBy: workerId }, select: { id: true } })
  return new Set(rows.map(r => r.id))
}

export async function reportProgress(db: Db, jobId: string, workerId: string, progress: ExportProgress): Promise<boolean> {
  const { count } = await db.job.updateMany({ where: held(jobId, workerId), data: { progress: json(progress) } })
  return count === 1
}

export async function completeJob(db: Db, job: ExportJob, workerId: string, result: Partial<ExportResult>, progress: ExportProgress): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: held(job.id, workerId),
    data: {
      status: 'completed',
      metadata: json({ ...job.metadata, ...result }),
      progress: json(progress),
      // A retried job that succeeded no longer has an error (undefined would leave the last one).
      error: Prisma.DbNull,
      completedAt: new Date(),
      lockedBy: null,
      lockedUntil: null
    }
  })
  return count === 1
}

/** Fails the job for good, or (retryAt given) puts it back in the queue for a later attempt. */
export async function failJob(db: Db, jobId: string, workerId: string, error: ExportError, retryAt?: Date): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: held(jobId, workerId),
    data: retryAt
      ? { status: 'pending', runAt: retryAt, error: json(error), progress: json(QUEUED_PROGRESS), lockedBy: null, lockedUntil: null }
      : { status: 'failed', error: json(error), completedAt: new Date(), lockedBy: null, lockedUntil: null }
  })
  return count === 1
}

/** Gives running jobs back to the queue at once (graceful shutdown): another worker resumes them. */
export async function releaseJobs(db: Db, workerId: string, jobIds: string[]): Promise<number> {
  if (!jobIds.length) return 0
  const { count } = await db.job.updateMany({
    where: { id: { in: jobIds }, lockedBy: workerId, status: 'running' },
    // The interrupted run was not a failed attempt.
    data: { status: 'pending', runAt: new Date(), attempts: { decrement: 1 }, lockedBy: null, lockedUntil: null, progress: json(QUEUED_PROGRESS) }
  })
  return count
}

/** The job's status now, or null if it is gone. */
export async function jobStatus(db: Db, jobId: string): Promise<JobStatus | null> {
  const job = await db.job.findUnique({ where: { id: jobId }, select: { status: true } })
  return job?.status ?? null
}
