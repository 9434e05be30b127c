import type { Db } from '#server/lib/db/client'
import type { Job as JobRow } from '#server/generated/prisma/client'
import { ACTIVE_STATUSES } from '#shared/types/jobs'
import type { NotificationChannel } from '#shared/types/notifications'
import { isUuid } from '#shared/utils/uuid'
import { JOB_COLUMNS, toExportJob, type ExportJob } from './record'
import { FIRST_DELIVERY_ATTEMPTS_DONE } from './deliveries'

/** What happens to jobs after they finish: retention, orphaned objects and the once-per-job notification. */

/** Completed exports that finished before the cutoff, oldest first, with their storage keys. */
export async function completedBefore(db: Db, cutoff: Date, opts: { skip: string[], limit: number }): Promise<ExportJob[]> {
  const rows = await db.job.findMany({
    where: { status: 'completed', completedAt: { lt: cutoff }, id: { notIn: opts.skip } },
    orderBy: { completedAt: 'asc' },
    take: opts.limit
  })
  return rows.map(toExportJob)
}

/**
 * Of these jobs, the ones whose objects must stay: pending and running jobs (an attempt under way
 * or to come) and completed ones (their recorded file). Unknown ids are simply absent.
 */
export async function liveJobsAmong(db: Db, jobIds: string[]): Promise<ExportJob[]> {
  if (!jobIds.length) return []
  const rows = await db.job.findMany({ where: { id: { in: jobIds }, status: { in: ['pending', 'running', 'completed'] } } })
  return rows.map(toExportJob)
}

/** Marks a completed job expired (its file is gone); false if it was no longer completed. */
export async function markExpired(db: Db, jobId: string): Promise<boolean> {
  const { count } = await db.job.updateMany({ where: { id: jobId, status: 'completed' }, data: { status: 'expired' } })
  return count === 1
}

/**
 * Marks the user's finished export `deleted` (its file was removed); false if it is unknown, another
 * user's, or still pending or running (cancel it first). Deleting twice keeps the first time.
 */
export async function markDeleted(db: Db, userId: string, jobId: string): Promise<ExportJob | null> {
  const { rows } = await db.pool.query<JobRow>(
    `UPDATE jobs SET status = 'deleted', deleted_at = COALESCE(deleted_at, now()), updated_at = now()
     WHERE id = $1 AND user_id = $2 AND type = 'EXPORT' AND status <> ALL($3::job_status[])
     RETURNING ${JOB_COLUMNS}`,
    [jobId, userId, ACTIVE_STATUSES]
  )
  return rows[0] ? toExportJob(rows[0]) : null
}

/**
 * The same once-per-job claim for another channel: inserts (job, channel) into job_notifications
 * if the job is final and nobody has, and returns the job to whoever won.
 */

export async function claimChannelNotification(db: Db, jobId: string, channel: NotificationChannel): Promise<ExportJob | null> {
  if (!isUuid(jobId)) return null
  const { rows } = await db.pool.query<{ job_id: string }>(
    `INSERT INTO job_notifications (job_id, channel)
     SELECT id, $2 FROM jobs j WHERE id = $1 AND status IN ('completed', 'failed') AND ${FIRST_DELIVERY_ATTEMPTS_DONE}
     ON CONFLICT DO NOTHING
     RETURNING job_id`,
    [jobId.toLowerCase(), channel]
  )
  if (!rows[0]) return null
  const job = await db.job.findUnique({ where: { id: rows[0].job_id } })
  return job ? toExportJob(job) : null
}

/** Deletes up to `limit` claims of jobs that finished before `cutoff`; returns how many. */
export async function deleteClaimsBefore(db: Db, cutoff: Date, limit: number): Promise<number> {
  return db.$executeRaw`
    DELETE FROM job_notifications WHERE (job_id, channel) IN (
      SELECT n.job_id, n.channel FROM job_notifications n JOIN jobs j ON j.id = n.job_id
      WHERE j.completed_at < ${cutoff} LIMIT ${limit}
    )`
}

/** Finished jobs since `since` not yet claimed on `channel`, oldest first. */
export async function unclaimedJobIds(db: Db, channel: NotificationChannel, since: Date, limit: number): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>(
    `SELECT id FROM jobs j
     WHERE status IN ('completed', 'failed') AND completed_at >= $1 AND ${FIRST_DELIVERY_ATTEMPTS_DONE}
       AND NOT EXISTS (SELECT 1 FROM job_notifications n WHERE n.job_id = j.id AND n.channel = $2)
     ORDER BY completed_at LIMIT $3`,
    [since, channel, limit]
  )
  return rows.map(r => r.id)
}
