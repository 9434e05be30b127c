import type { Db } from '#server/lib/db/client'
import { Prisma, type Job as JobRow } from '#server/generated/prisma/client'
import { JOB_COLUMNS, toExportJob, type ExportJob } from './record'

/**
 * The change feed of export jobs behind GET /api/analytics/exports/events. The numbering is the
 * database's (migration 20261215300000_export_events): every change of a job that its DTO shows
 * takes the next `change_seq` (a job's changes in order), records its transaction in
 * `change_xid`, and is announced on CHANGES_CHANNEL at commit with the row as that change left it
 * and its horizon: the xmin of the snapshot it ran under. Whatever commits after a change was
 * announced has `change_xid` >= that horizon, so a horizon is a stream's cursor.
 */
export const CHANGES_CHANNEL = 'outport_export_changes'

/** A job as of one of its changes: `seq` is the user's counter at its latest change. */
export interface JobChange { seq: number, job: ExportJob }

export interface ChangeNotice {
  userId: string
  jobId: string
  seq: number
  /** Every change that commits after this one has change_xid >= this. */
  horizon: string
  /** The job as this change left it; null when the row was too large for a notice (read it). */
  job: ExportJob | null
}

// A timestamptz as to_jsonb() writes it: the only strings of the row that are not text columns.
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d:\d\d$/
const FIELDS = Object.values(Prisma.JobScalarFieldEnum).map(field => [field, field.replace(/[A-Z]/g, c => `_${c.toLowerCase()}`)] as const)

/** A notification's payload: `<user id> <job id> <seq> <horizon>[ <row as JSON>]`. Null for anything else. */
export function parseChangeNotice(payload: string | undefined): ChangeNotice | null {
  const match = /^(\S+) (\S+) (\d+) (\d+)(?: (.*))?$/s.exec(payload ?? '')
  if (!match) return null
  const [, userId, jobId, seq, horizon, body] = match as unknown as [string, string, string, string, string, string | undefined]
  let job: ExportJob | null = null
  if (body) {
    const columns = JSON.parse(body) as Record<string, unknown>
    const row = Object.fromEntries(FIELDS.map(([field, column]) => {
      const value = columns[column] ?? null
      return [field, typeof value === 'string' && TIMESTAMP.test(value) ? new Date(value) : value]
    }))
    job = toExportJob(row as unknown as JobRow)
  }
  return { userId, jobId, seq: Number(seq), horizon, job }
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
 * The user's export jobs (optionally one) whose last change's transaction is at or after
 * `horizon`, in the order of their last changes: what a stream resuming from that cursor may have
 * missed (and some it saw: a client takes the newest state of each job). After `afterSeq`: the
 * next page.
 */
export async function changesSince(db: Db, userId: string, horizon: string, jobId: string | null, afterSeq: number, limit: number): Promise<JobChange[]> {
  const { rows } = await db.pool.query<ChangeRow>({
    name: 'outport_job_changes_since',
    text: `SELECT ${JOB_COLUMNS}, change_seq::text AS seq FROM jobs
      WHERE user_id = $1 AND change_xid >= $2::bigint AND change_seq > $3 AND type = 'EXPORT' AND ($4::uuid IS NULL OR id = $4::uuid)
      ORDER BY change_seq LIMIT $5`,
    values: [userId, horizon, afterSeq, jobId, limit]
  })
  return rows.map(toChange)
}

/** The cursor of "now": every change that commits from here on has change_xid >= it. */
export async function currentHorizon(db: Db): Promise<string> {
  const { rows: [row] } = await db.pool.query<{ horizon: string }>({
    name: 'outport_job_change_horizon',
    text: 'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon'
  })
  return row!.horizon
}

/**
 * Announces a change of the job that is kept outside its row (for example its deliveries, once
 * they exist) to every event stream following it, as any change of its row is. Call it in the
 * transaction that makes the change.
 */
export async function announceJobChange(db: Db | Prisma.TransactionClient, jobId: string): Promise<void> {
  // -1 differs from every stored number, so the jobs_change_update trigger fires and replaces it.
  await db.$executeRaw`UPDATE jobs SET change_seq = -1 WHERE id = ${jobId}::uuid`
}
