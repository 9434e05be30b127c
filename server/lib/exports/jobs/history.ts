import type { Db } from '#server/lib/db/client'
import type { Job as JobRow, Prisma } from '#server/generated/prisma/client'
import type { JobStatus } from '#shared/types/jobs'
import type { ExportSource } from '#shared/types/exports'
import { isUuid } from '#shared/utils/uuid'
import { JOB_COLUMNS, toExportJob, type ExportJob } from './record'

/** Reads of export jobs for the API: one user's jobs, never another's. */

/**
 * The caller's export job, or null: another user's job and a malformed id look the same.
 * Read on every status poll, so it is a prepared statement on the pool (see db/client.ts).
 */
export async function findUserExport(db: Db, userId: string, jobId: unknown): Promise<ExportJob | null> {
  if (!isUuid(jobId)) return null
  const { rows } = await db.pool.query<JobRow>({
    name: 'outport_user_export',
    text: `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1 AND user_id = $2 AND type = 'EXPORT'`,
    values: [jobId.toLowerCase(), userId]
  })
  return rows[0] ? toExportJob(rows[0]) : null
}

/** Any user's export job by id: for the signed download link, whose token names the job. */
export async function findExport(db: Db, jobId: string): Promise<ExportJob | null> {
  if (!isUuid(jobId)) return null
  const row = await db.job.findFirst({ where: { id: jobId.toLowerCase(), type: 'EXPORT' } })
  return row ? toExportJob(row) : null
}

/** Claimable jobs (any user's) that a worker will take before this one. */
export async function queuePosition(db: Db, job: ExportJob): Promise<number | null> {
  if (job.status !== 'pending') return null
  const { rows: [row] } = await db.pool.query<{ ahead: number }>({
    name: 'outport_queue_position',
    // As a row comparison the index's range ends at this job: the count reads the jobs ahead of
    // it, not every pending job.
    text: `SELECT count(*)::int AS ahead FROM jobs
      WHERE status = 'pending' AND (run_at, created_at) < ($1, $2)`,
    values: [job.runAt, job.createdAt]
  })
  return row!.ahead
}

export interface ExportPage { jobs: ExportJob[], nextCursor: string | null }

/** What the history can be narrowed to; every filter given must match. */
export interface ExportFilter {
  status?: JobStatus[]
  dataset_id?: string
  created_after?: Date
  created_before?: Date
  /** Only this schedule's runs. */
  schedule_id?: string
  source?: ExportSource[]
}

/**
 * The one place the history's filters become SQL: a new filter is one line here. The user scope is
 * not a filter and always applies.
 */
export function exportFilterWhere(userId: string, filter: ExportFilter): Prisma.JobWhereInput {
  const createdAt = {
    ...(filter.created_after && { gte: filter.created_after }),
    ...(filter.created_before && { lt: filter.created_before })
  }
  return {
    userId,
    type: 'EXPORT',
    ...(filter.status && { status: { in: filter.status } }),
    ...(filter.dataset_id && { metadata: { path: ['dataset_id'], equals: filter.dataset_id } }),
    ...((filter.created_after || filter.created_before) && { createdAt }),
    ...(filter.schedule_id && { scheduleId: filter.schedule_id.toLowerCase() }),
    ...(filter.source && { source: { in: filter.source } })
  }
}

/** The user's exports matching the filter, newest first, a page at a time (the cursor continues the same filter). */
export async function listUserExports(db: Db, userId: string, opts: ExportFilter & { limit: number, cursor?: string }): Promise<ExportPage | null> {
  const after = opts.cursor ? decodeCursor(opts.cursor) : undefined
  if (after === null) return null
  const rows = await db.job.findMany({
    where: {
      AND: [
        exportFilterWhere(userId, opts),
        ...(after ? [{ OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] }] : [])
      ]
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: opts.limit + 1
  })
  const jobs = rows.slice(0, opts.limit).map(toExportJob)
  return { jobs, nextCursor: rows.length > opts.limit ? encodeCursor(jobs.at(-1)!) : null }
}

/** Keyset pagination over (created_at, id), newest first: stable while new jobs arrive. */
export function encodeCursor(job: Pick<ExportJob, 'createdAt' | 'id'>): string {
  return Buffer.from(`${job.createdAt.toISOString()}|${job.id}`).toString('base64url')
}

export function decodeCursor(cursor: string): { createdAt: Date, id: string } | null {
  const [iso, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  const createdAt = new Date(iso ?? '')
  if (!isUuid(id) || Number.isNaN(createdAt.getTime())) return null
  return { createdAt, id }
}
