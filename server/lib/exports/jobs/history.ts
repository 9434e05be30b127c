import type { Db } from '../../db/client'
import type { Job as JobRow } from '../../../generated/prisma/client'
import { isUuid } from '../../../../shared/utils/uuid'
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
    text: `SELECT count(*)::int AS ahead FROM jobs
      WHERE status = 'pending' AND (run_at < $1 OR (run_at = $1 AND created_at < $2))`,
    values: [job.runAt, job.createdAt]
  })
  return row!.ahead
}

export interface ExportPage { jobs: ExportJob[], nextCursor: string | null }

/** The user's exports, newest first, a page at a time. */
export async function listUserExports(db: Db, userId: string, opts: { limit: number, cursor?: string, schedule_id?: string }): Promise<ExportPage | null> {
  const after = opts.cursor ? decodeCursor(opts.cursor) : undefined
  if (after === null) return null
  const rows = await db.job.findMany({
    where: {
      userId,
      type: 'EXPORT',
      ...(opts.schedule_id && { scheduleId: opts.schedule_id.toLowerCase() }),
      ...(after && { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] })
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
