import { createHash } from 'node:crypto'
import type { Db } from '../db/client.ts'
import { Prisma, type Job } from '../../generated/prisma/client.ts'
import type { ExportError, ExportMetadata, ExportProgress } from '../../../shared/types/exports.ts'

/**
 * The export job queue in PostgreSQL. A job is claimed with FOR UPDATE SKIP LOCKED, so any number of
 * workers in any number of processes can claim concurrently without a job being taken twice. A
 * running job holds a lease (locked_by, locked_until) that its worker renews; every write a worker
 * makes is conditional on still holding it, so a worker that lost its job cannot clobber the work
 * of the worker that reclaimed it.
 */

export const JOBS_CHANNEL = 'outport_jobs'
/** Carries the id of a job cancelled while running, so the worker holding it stops at once. */
export const CANCEL_CHANNEL = 'outport_cancel'

export const ACTIVE_STATUSES = ['pending', 'running'] as const

/** How long an Idempotency-Key keeps returning the job it created. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000

export const QUEUED_PROGRESS: ExportProgress = { phase: 'queued', percent: 0, rows: null, bytes_uploaded: null }

export type { Job }

/** Enqueues an export without the per-user limits (seeding, tests); requests go through submitExportJob. */
export function createExportJob(db: Db, userId: string, metadata: ExportMetadata): Promise<Job> {
  return db.$transaction(tx => insertExportJob(tx, userId, metadata))
}

async function insertExportJob(tx: Prisma.TransactionClient, userId: string, metadata: ExportMetadata, idempotency?: { key: string, hash: string }): Promise<Job> {
  const job = await tx.job.create({
    data: {
      userId,
      type: 'EXPORT',
      status: 'pending',
      metadata: metadata as object,
      progress: QUEUED_PROGRESS as object,
      idempotencyKey: idempotency?.key ?? null,
      requestHash: idempotency?.hash ?? null
    }
  })
  // Delivered on commit: wakes idle workers at once instead of at the next sweep.
  await tx.$executeRaw`SELECT pg_notify(${JOBS_CHANNEL}, 'new')`
  return job
}

export class JobLimitError extends Error {
  constructor(readonly code: 'TOO_MANY_ACTIVE' | 'QUEUE_FULL', message: string) {
    super(message)
  }
}

export class IdempotencyConflictError extends Error {
  constructor() {
    super('This Idempotency-Key was already used with a different request')
  }
}

export interface SubmitOptions {
  maxActivePerUser: number
  maxQueueDepth: number
  idempotencyKey?: string
}

/** The request as it affects the result: equal exports hash equal whatever the id order. */
export function requestHash(metadata: ExportMetadata): string {
  const { dataset_id: datasetId, format, filters } = metadata
  const canonical = {
    dataset_id: datasetId,
    format,
    start_date: filters.start_date ?? null,
    end_date: filters.end_date ?? null,
    account_ids: [...filters.account_ids].sort(),
    tag_ids: [...filters.tag_ids].sort()
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex')
}

/**
 * Creates an export job within the limits, or returns the job an earlier request with the same
 * Idempotency-Key created. A per-user advisory lock serialises one user's submissions, so two
 * concurrent requests cannot both pass the active-job limit or both use one key.
 */
export async function submitExportJob(db: Db, userId: string, metadata: ExportMetadata, opts: SubmitOptions): Promise<{ job: Job, replayed: boolean }> {
  const hash = requestHash(metadata)
  return db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended(${`outport:submit:${userId}`}, 0))`
    if (opts.idempotencyKey) {
      const previous = await tx.job.findUnique({ where: { userId_idempotencyKey: { userId, idempotencyKey: opts.idempotencyKey } } })
      if (previous && previous.createdAt.getTime() > Date.now() - IDEMPOTENCY_WINDOW_MS) {
        if (previous.requestHash !== hash) throw new IdempotencyConflictError()
        return { job: previous, replayed: true }
      }
      // Expired: the key may start a new job.
      if (previous) await tx.job.update({ where: { id: previous.id }, data: { idempotencyKey: null } })
    }
    const active = await tx.job.count({ where: { userId, status: { in: [...ACTIVE_STATUSES] } } })
    if (active >= opts.maxActivePerUser) {
      throw new JobLimitError('TOO_MANY_ACTIVE', `You already have ${active} exports waiting or running (the limit is ${opts.maxActivePerUser}). Wait for one to finish or cancel one, then try again.`)
    }
    const depth = await tx.job.count({ where: { status: 'pending' } })
    if (depth >= opts.maxQueueDepth) {
      throw new JobLimitError('QUEUE_FULL', 'The export service is busy right now. Please try again in a few minutes.')
    }
    const job = await insertExportJob(tx, userId, metadata, opts.idempotencyKey ? { key: opts.idempotencyKey, hash } : undefined)
    return { job, replayed: false }
  })
}

export type CancelOutcome
  = | { outcome: 'cancelled', previous: 'pending' | 'running' }
    | { outcome: 'final', status: Job['status'] }
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
