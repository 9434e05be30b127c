import { createHash } from 'node:crypto'
import type { Db } from '#server/lib/db/client'
import type { Prisma } from '#server/generated/prisma/client'
import { resolveExportOptions, type ExportMetadata, type ExportSource } from '#shared/types/exports'
import type { RequestRefusalCode } from '#shared/types/errors'
import { ACTIVE_STATUSES } from '#shared/types/jobs'
import { JOBS_CHANNEL } from './queue'
import { json, QUEUED_PROGRESS, toExportJob, type ExportJob } from './record'

/** How long an Idempotency-Key keeps returning the job it created. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000

/** Enqueues an export without the per-user limits (seeding, tests); requests go through submitExportJob. */
export function createExportJob(db: Db, userId: string, metadata: ExportMetadata, source: ExportSource = 'manual'): Promise<ExportJob> {
  return db.$transaction(tx => insertExportJob(tx, userId, metadata, source))
}

async function insertExportJob(tx: Prisma.TransactionClient, userId: string, metadata: ExportMetadata, source: ExportSource, idempotency?: { key: string, hash: string }): Promise<ExportJob> {
  const row = await tx.job.create({
    data: {
      userId,
      type: 'EXPORT',
      status: 'pending',
      source,
      metadata: json(metadata),
      progress: json(QUEUED_PROGRESS),
      idempotencyKey: idempotency?.key ?? null,
      requestHash: idempotency?.hash ?? null
    }
  })
  // Delivered on commit: wakes idle workers at once instead of at the next sweep.
  await tx.$executeRaw`SELECT pg_notify(${JOBS_CHANNEL}, 'new')`
  return toExportJob(row)
}

export class JobLimitError extends Error {
  constructor(readonly code: RequestRefusalCode, message: string) {
    super(message)
  }
}

/**
 * Serialises one user's submissions (new exports, a schedule's run-now) until the transaction
 * ends, so two concurrent ones cannot both pass checkActiveLimit.
 */
export async function lockUserSubmissions(tx: Prisma.TransactionClient, userId: string): Promise<void> {
  await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended(${`outport:submit:${userId}`}, 0))`
}

/** Refuses (TOO_MANY_ACTIVE) when the user already has `max` exports waiting or running; under lockUserSubmissions. */
export async function checkActiveLimit(tx: Prisma.TransactionClient, userId: string, max: number): Promise<void> {
  const active = await tx.job.count({ where: { userId, status: { in: ACTIVE_STATUSES } } })
  if (active >= max) {
    throw new JobLimitError('TOO_MANY_ACTIVE', `You already have ${active} exports waiting or running (the limit is ${max}). Wait for one to finish or cancel one, then try again.`)
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
  /** A browser session's export or an API token's (schedules' runs are inserted by scheduled.ts). */
  source: Exclude<ExportSource, 'schedule'>
}

/**
 * The request as it affects the result: equal exports hash equal whatever the id order, and an
 * option left out hashes like its default spelled out. Options at their defaults are left out of
 * the hashed object, so requests without them hash as they did before the options existed.
 */
export function requestHash(metadata: ExportMetadata): string {
  const { dataset_id: datasetId, format, filters } = metadata
  const options = resolveExportOptions(metadata)
  const defaults = resolveExportOptions({ format })
  const changed = Object.fromEntries(Object.entries(options).filter(([key, value]) =>
    JSON.stringify(value) !== JSON.stringify(defaults[key as keyof typeof defaults])))
  const canonical = {
    dataset_id: datasetId,
    format,
    start_date: filters.start_date ?? null,
    end_date: filters.end_date ?? null,
    account_ids: [...filters.account_ids].sort(),
    tag_ids: [...filters.tag_ids].sort(),
    // Only when there are any, so the hash of a request without them is what it always was.
    ...(filters.row_filters?.length ? { row_filters: filters.row_filters } : {}),
    ...changed
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex')
}

/**
 * Creates an export job within the limits, or returns the job an earlier request with the same
 * Idempotency-Key created. A per-user advisory lock serialises one user's submissions, so two
 * concurrent requests cannot both pass the active-job limit or both use one key.
 */
export async function submitExportJob(db: Db, userId: string, metadata: ExportMetadata, opts: SubmitOptions): Promise<{ job: ExportJob, replayed: boolean }> {
  const hash = requestHash(metadata)
  return db.$transaction(async (tx) => {
    await lockUserSubmissions(tx, userId)
    if (opts.idempotencyKey) {
      const previous = await tx.job.findUnique({ where: { userId_idempotencyKey: { userId, idempotencyKey: opts.idempotencyKey } } })
      if (previous && previous.createdAt.getTime() > Date.now() - IDEMPOTENCY_WINDOW_MS) {
        if (previous.requestHash !== hash) throw new IdempotencyConflictError()
        return { job: toExportJob(previous), replayed: true }
      }
      // Expired: the key may start a new job.
      if (previous) await tx.job.update({ where: { id: previous.id }, data: { idempotencyKey: null } })
    }
    await checkActiveLimit(tx, userId, opts.maxActivePerUser)
    const depth = await tx.job.count({ where: { status: 'pending' } })
    if (depth >= opts.maxQueueDepth) {
      throw new JobLimitError('QUEUE_FULL', 'The export service is busy right now. Please try again in a few minutes.')
    }
    const job = await insertExportJob(tx, userId, metadata, opts.source, opts.idempotencyKey ? { key: opts.idempotencyKey, hash } : undefined)
    return { job, replayed: false }
  })
}
