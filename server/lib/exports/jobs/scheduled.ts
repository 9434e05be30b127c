import type { Db } from '#server/lib/db/client'
import type { Prisma, Job as JobRow } from '#server/generated/prisma/client'
import type { ExportError, ExportMetadata } from '#shared/types/exports'
import type { JobStatus } from '#shared/types/jobs'
import { JOBS_CHANNEL } from './queue'
import { JOB_COLUMNS, QUEUED_PROGRESS, toExportJob, type ExportJob } from './record'
import { checkActiveLimit, lockUserSubmissions } from './submit'

/** Schedules' runs in the jobs table: created inside the scheduler's transaction, read for the Schedules page. */

export interface ScheduledRun {
  userId: string
  scheduleId: string
  /** The slot (or for a run-now, the instant asked for): one job per (schedule, slot). */
  scheduledFor: Date
  metadata: ExportMetadata
  /** A run that cannot start (its filters are gone): recorded as failed at once, with this error. */
  failure?: ExportError
  /** For a run-now: refused like a new export when the user already has this many waiting or running. */
  maxActivePerUser?: number
}

/**
 * Inserts a schedule's run in the caller's transaction, so the job exists if and only if the
 * schedule's advance commits. Scheduled runs skip the per-user active limit (they queue and wait
 * instead of being refused); the request was validated by the caller. Returns null when the slot
 * already has its job: the unique (schedule_id, scheduled_for) key, not timing, rules out a
 * double run.
 */
export async function insertScheduledRun(tx: Prisma.TransactionClient, run: ScheduledRun): Promise<ExportJob | null> {
  if (run.maxActivePerUser !== undefined) {
    // The same per-user lock as submitExportJob, so a run-now and a new export cannot both pass the limit.
    await lockUserSubmissions(tx, run.userId)
    await checkActiveLimit(tx, run.userId, run.maxActivePerUser)
  }
  const failed = run.failure !== undefined
  const rows = await tx.$queryRawUnsafe<JobRow[]>(`
    INSERT INTO jobs (user_id, type, status, metadata, progress, error, completed_at, schedule_id, scheduled_for, source, updated_at)
    VALUES ($1::uuid, 'EXPORT', $2::job_status, $3::jsonb, $4::jsonb, $5::jsonb, $6::timestamptz, $7::uuid, $8::timestamptz, 'schedule', now())
    ON CONFLICT (schedule_id, scheduled_for) DO NOTHING
    RETURNING ${JOB_COLUMNS}`,
  run.userId, failed ? 'failed' : 'pending', JSON.stringify(run.metadata), failed ? null : JSON.stringify(QUEUED_PROGRESS),
  failed ? JSON.stringify(run.failure) : null, failed ? new Date() : null, run.scheduleId, run.scheduledFor)
  if (!rows[0]) return null
  // Delivered on commit: wakes idle workers at once instead of at the next sweep.
  if (!failed) await tx.$executeRaw`SELECT pg_notify(${JOBS_CHANNEL}, 'new')`
  return toExportJob(rows[0])
}

export interface LastRun { jobId: string, status: JobStatus, at: Date }
export interface RecentRun { id: string, status: JobStatus, createdAt: Date }

/** How many of a schedule's latest runs the Schedules page shows. */
export const RECENT_RUNS = 10

/**
 * Each schedule's latest run (by slot) and its RECENT_RUNS latest runs (by creation, newest first),
 * for all the schedules in one query.
 */
export async function scheduleRuns(db: Db, scheduleIds: string[]): Promise<Map<string, { last: LastRun | null, recent: RecentRun[] }>> {
  const runs = new Map(scheduleIds.map(id => [id, { last: null as LastRun | null, recent: [] as RecentRun[] }]))
  if (!scheduleIds.length) return runs
  const rows = await db.$queryRaw<Array<{ schedule_id: string, id: string, status: JobStatus, scheduled_for: Date, created_at: Date, by_slot: bigint, by_creation: bigint }>>`
    SELECT * FROM (
      SELECT schedule_id, id, status::text AS status, scheduled_for, created_at,
        row_number() OVER (PARTITION BY schedule_id ORDER BY scheduled_for DESC, created_at DESC) AS by_slot,
        row_number() OVER (PARTITION BY schedule_id ORDER BY created_at DESC, id DESC) AS by_creation
      FROM jobs WHERE schedule_id = ANY(${scheduleIds}::uuid[])
    ) ranked
    WHERE by_slot = 1 OR by_creation <= ${RECENT_RUNS}
    ORDER BY schedule_id, by_creation`
  for (const r of rows) {
    const entry = runs.get(r.schedule_id)!
    if (Number(r.by_slot) === 1) entry.last = { jobId: r.id, status: r.status, at: r.scheduled_for }
    if (Number(r.by_creation) <= RECENT_RUNS) entry.recent.push({ id: r.id, status: r.status, createdAt: r.created_at })
  }
  return runs
}

/**
 * Failed runs since the schedule's last completed one (cancelled runs and runs still under way do
 * not count either way). Recomputed from the runs themselves, so counting twice changes nothing.
 * A run the user deleted still counts as the success it was if it had a file (its metadata keeps
 * the s3_key), so deleting a good run never makes older failures "consecutive" again; a deleted
 * run without a file (failed or cancelled) counts neither way.
 */
export async function consecutiveFailedRuns(db: Db | Prisma.TransactionClient, scheduleId: string, limit = 100): Promise<number> {
  const found = await db.job.findMany({
    where: { scheduleId, status: { in: ['completed', 'expired', 'failed', 'deleted'] } },
    orderBy: [{ scheduledFor: 'desc' }, { createdAt: 'desc' }],
    select: { status: true, metadata: true },
    take: limit
  })
  const rows = found.filter(r => r.status !== 'deleted' || Boolean((r.metadata as { s3_key?: string } | null)?.s3_key))
  const firstSuccess = rows.findIndex(r => r.status !== 'failed')
  return firstSuccess === -1 ? rows.length : firstSuccess
}

/** The schedule a job is a run of, if any (for the worker's end-of-run hook). */
export async function scheduleOfJob(db: Db, jobId: string): Promise<string | null> {
  const row = await db.job.findUnique({ where: { id: jobId }, select: { scheduleId: true } })
  return row?.scheduleId ?? null
}

/** Whether one of the schedule's runs is running now (claimed by a worker, not finished). */
export async function hasRunningRun(db: Db | Prisma.TransactionClient, scheduleId: string): Promise<boolean> {
  return (await db.job.count({ where: { scheduleId, status: 'running' } })) > 0
}

/**
 * Whether a backfill run of the user's may start now: it queues behind the user's own exports (none
 * of their one-off exports waiting), one at a time (none of their backfill runs waiting or
 * running), and within EXPORT_MAX_ACTIVE_PER_USER. Under lockUserSubmissions, so a new export and a
 * backfill run cannot both take the last place.
 */
export async function backfillMayStart(tx: Prisma.TransactionClient, userId: string, maxActive: number): Promise<boolean> {
  const [row] = await tx.$queryRaw<Array<{ active: number, waiting: number, backfilling: number }>>`
    SELECT count(*)::int AS active,
      (count(*) FILTER (WHERE status = 'pending' AND schedule_id IS NULL))::int AS waiting,
      (count(*) FILTER (WHERE EXISTS (SELECT 1 FROM backfill_slots s WHERE s.job_id = jobs.id)))::int AS backfilling
    FROM jobs WHERE user_id = ${userId}::uuid AND status IN ('pending', 'running')`
  return row!.active < maxActive && row!.waiting === 0 && row!.backfilling === 0
}

/** Cancels the jobs among these that have not started; returns how many. */
export async function cancelPendingJobs(tx: Prisma.TransactionClient, jobIds: string[]): Promise<number> {
  if (!jobIds.length) return 0
  const { count } = await tx.job.updateMany({
    where: { id: { in: jobIds }, status: 'pending' },
    data: { status: 'cancelled', completedAt: new Date(), updatedAt: new Date() }
  })
  return count
}

export interface BackfillRow {
  id: string
  start_at: Date
  end_at: Date
  slot_count: number
  cancelled_at: Date | null
  created_at: Date
  done: number
  failed: number
  pending: number
}

/**
 * A schedule's backfills with their runs counted: done (completed; deleted since, with a file),
 * failed (failed, cancelled, or deleted without a file) and pending (not started, waiting, running).
 */
export async function backfillProgress(db: Db, userId: string, scheduleId: string): Promise<BackfillRow[]> {
  return db.$queryRaw<BackfillRow[]>`
    SELECT b.id, b.start_at, b.end_at, b.slot_count, b.cancelled_at, b.created_at,
      (count(*) FILTER (WHERE j.status IN ('completed', 'expired') OR (j.status = 'deleted' AND j.metadata ? 's3_key')))::int AS done,
      (count(*) FILTER (WHERE j.status IN ('failed', 'cancelled') OR (j.status = 'deleted' AND NOT j.metadata ? 's3_key')))::int AS failed,
      (count(*) FILTER (WHERE s.slot IS NOT NULL AND (s.job_id IS NULL OR j.status IN ('pending', 'running'))))::int AS pending
    FROM schedule_backfills b
    LEFT JOIN backfill_slots s ON s.backfill_id = b.id
    LEFT JOIN jobs j ON j.id = s.job_id
    WHERE b.schedule_id = ${scheduleId}::uuid AND b.user_id = ${userId}::uuid
    GROUP BY b.id
    ORDER BY b.created_at DESC, b.id`
}

/** Of these slots of the schedule, the ones that have no run yet. */
export async function slotsWithoutRun(db: Db | Prisma.TransactionClient, scheduleId: string, slots: Date[]): Promise<Date[]> {
  if (!slots.length) return []
  const taken = await db.job.findMany({ where: { scheduleId, scheduledFor: { in: slots } }, select: { scheduledFor: true } })
  const ran = new Set(taken.map(j => j.scheduledFor!.getTime()))
  return slots.filter(slot => !ran.has(slot.getTime()))
}
