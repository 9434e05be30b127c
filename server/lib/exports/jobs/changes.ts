import type { Db } from '#server/lib/db/client'
import { Prisma, type Job as JobRow } from '#server/generated/prisma/client'
import { JOB_COLUMNS, toExportJob, type ExportJob } from './record'

/**
 * The change feed of export jobs behind GET /api/analytics/exports/events. The numbering is the
 * database's (migration 20261215300000_export_events): every change of a job that its DTO shows
 * takes the next value of its user's counter into `change_seq` and is announced on
 * CHANGES_CHANNEL at commit, with the row as that change left it; these reads never number
 * anything themselves.
 */
export const CHANGES_CHANNEL = 'outport_export_changes'

/** A job as of one of its changes: `seq` is the user's counter at its latest change. */
export interface JobChange { seq: number, job: ExportJob }

export interface ChangeNotice {
  userId: string
  jobId: string
  seq: number
  /** The job as this change left it; null when the row was too large for a notice (read it). */
  job: ExportJob | null
}

// A timestamptz as to_jsonb() writes it: the only strings of the row that are not text columns.
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d:\d\d$/
const FIELDS = Object.values(Prisma.JobScalarFieldEnum).map(field => [field, field.replace(/[A-Z]/g, c => `_${c.toLowerCase()}`)] as const)

/** A notification's payload: `<user id> <job id> <seq>[ <row as JSON>]`. Null for anything else. */
export function parseChangeNotice(payload: string | undefined): ChangeNotice | null {
  const match = /^(\S+) (\S+) (\d+)(?: (.*))?$/s.exec(payload ?? '')
  if (!match) return null
  const [, userId, jobId, seq, body] = match as unknown as [string, string, string, string, string | undefined]
  let job: ExportJob | null = null
  if (body) {
    const columns = JSON.parse(body) as Record<string, unknown>
    const row = Object.fromEntries(FIELDS.map(([field, column]) => {
      const value = columns[column] ?? null
      return [field, typeof value === 'string' && TIMESTAMP.test(value) ? new Date(value) : value]
    }))
    job = toExportJob(row as unknown as JobRow)
  }
  return { userId, jobId, seq: Number(seq), job }
}

type ChangeRow = JobRow & { seq: string }

function toChange(row: ChangeRow): JobChange {
  return { seq: Number(row.seq), job: toExportJob(row) }
}

/** The job as it is now, with the number of its latest change (null once gone). */
export async function currentChange(db: Db, jobId: string): Promise<JobChange | null> {
  const { rows: [row] } = await db.pool.query<ChangeRow>({
    name: 'outport_job_change',
    text: `SELECT ${JOB_COLUMNS}, change_seq::text AS seq FROM jobs WHERE id = $1 AND type = 'EXPORT'`,
    values: [jobId]
  })
  return row ? toChange(row) : null
}

/**
 * The user's export jobs changed after change `after` (optionally one job), oldest change first:
 * what a resuming stream missed. A job changed several times since comes once, as it is now.
 */
export async function changesSince(db: Db, userId: string, after: number, jobId: string | null = null, limit = 1000): Promise<JobChange[]> {
  const { rows } = await db.pool.query<ChangeRow>({
    name: 'outport_job_changes_since',
    text: `SELECT ${JOB_COLUMNS}, change_seq::text AS seq FROM jobs
      WHERE user_id = $1 AND change_seq > $2 AND type = 'EXPORT' AND ($3::uuid IS NULL OR id = $3::uuid)
      ORDER BY change_seq LIMIT $4`,
    values: [userId, after, jobId, limit]
  })
  return rows.map(toChange)
}

/** The user's latest change number (0 before the first): where a fresh stream starts. */
export async function latestChange(db: Db, userId: string): Promise<number> {
  const { rows: [row] } = await db.pool.query<{ seq: string }>({
    name: 'outport_job_latest_change',
    text: 'SELECT last_seq::text AS seq FROM job_change_counters WHERE user_id = $1',
    values: [userId]
  })
  return row ? Number(row.seq) : 0
}

/**
 * Announces a change of the job that is kept outside its row (for example its deliveries, once
 * they exist) to every event stream following it: the job takes the next change number of its
 * user, as any change of its row does. Call it in the transaction that makes the change.
 */
export async function announceJobChange(db: Db | Prisma.TransactionClient, jobId: string): Promise<void> {
  // -1 differs from every stored number, so the jobs_change_update trigger fires and replaces it.
  await db.$executeRaw`UPDATE jobs SET change_seq = -1 WHERE id = ${jobId}::uuid`
}
