import type { Db } from '../db/client.ts'
import type { Job } from '../../generated/prisma/client.ts'
import type { ExportError, ExportMetadata, ExportProgress } from '../../../shared/types/exports.ts'

/**
 * The export job queue in PostgreSQL. A job is claimed with FOR UPDATE SKIP LOCKED, so any number of
 * workers in any number of processes can claim concurrently without a job being taken twice. A
 * running job holds a lease (locked_by, locked_until) that its worker renews; every write a worker
 * makes is conditional on still holding it, so a worker that lost its job cannot clobber the work
 * of the worker that reclaimed it.
 */

export const JOBS_CHANNEL = 'outport_jobs'

export const QUEUED_PROGRESS: ExportProgress = { phase: 'queued', percent: 0, rows: null, bytes_uploaded: null }

export type { Job }

export async function createExportJob(db: Db, userId: string, metadata: ExportMetadata): Promise<Job> {
  const [job] = await db.$transaction([
    db.job.create({
      data: { userId, type: 'EXPORT', status: 'pending', metadata: metadata as object, progress: QUEUED_PROGRESS as object }
    }),
    // Delivered on commit: wakes idle workers at once instead of at the next sweep.
    db.$executeRaw`SELECT pg_notify(${JOBS_CHANNEL}, 'new')`
  ])
  return job
}

/**
 * Claims up to `limit` jobs, oldest first: pending ones whose run_at has come, and running ones
 * whose lease expired (their worker died).
 */
export async function claimJobs(db: Db, workerId: string, limit: number, leaseMs: number): Promise<Job[]> {
  if (limit <= 0) return []
  const rows = await db.$queryRaw<Array<{ id: string }>>`
    UPDATE jobs SET
      status = 'running',
      attempts = attempts + 1,
      locked_by = ${workerId},
      locked_until = now() + make_interval(secs => ${leaseMs / 1000}),
      started_at = now(),
      updated_at = now()
    WHERE id IN (
      SELECT id FROM jobs
      WHERE (status = 'pending' AND run_at <= now())
         OR (status = 'running' AND locked_until < now())
      ORDER BY run_at, created_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING id`
  if (!rows.length) return []
  return db.job.findMany({ where: { id: { in: rows.map(r => r.id) } }, orderBy: [{ runAt: 'asc' }, { createdAt: 'asc' }] })
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

export async function reportProgress(db: Db, jobId: string, workerId: string, progress: ExportProgress): Promise<boolean> {
  const { count } = await db.job.updateMany({ where: held(jobId, workerId), data: { progress: progress as object } })
  return count === 1
}

export async function completeJob(db: Db, job: Job, workerId: string, result: Partial<ExportMetadata>, progress: ExportProgress): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: held(job.id, workerId),
    data: {
      status: 'completed',
      metadata: { ...(job.metadata as object), ...result } as object,
      progress: progress as object,
      error: undefined,
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
      ? { status: 'pending', runAt: retryAt, error: error as object, progress: QUEUED_PROGRESS as object, lockedBy: null, lockedUntil: null }
      : { status: 'failed', error: error as object, completedAt: new Date(), lockedBy: null, lockedUntil: null }
  })
  return count === 1
}

/** Gives running jobs back to the queue at once (graceful shutdown): another worker resumes them. */
export async function releaseJobs(db: Db, workerId: string, jobIds: string[]): Promise<number> {
  if (!jobIds.length) return 0
  const { count } = await db.job.updateMany({
    where: { id: { in: jobIds }, lockedBy: workerId, status: 'running' },
    // The interrupted run was not a failed attempt.
    data: { status: 'pending', runAt: new Date(), attempts: { decrement: 1 }, lockedBy: null, lockedUntil: null, progress: QUEUED_PROGRESS as object }
  })
  return count
}
