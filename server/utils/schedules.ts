import { findExport } from '../lib/exports/jobs/history'
import { scheduleOfJob } from '../lib/exports/jobs/scheduled'
import { feedBackfills, type FeedPass } from '../lib/schedules/backfill'
import { runDueSchedules, settleSchedule, type PausedSchedule } from '../lib/schedules/scheduler'

/**
 * One scheduler pass in this process (the `schedules:run` task, every minute and at start-up):
 * creates the due runs, then announces what needs announcing — runs that failed before they could
 * start, and schedules that paused themselves.
 */
export async function runSchedulerPass(now = new Date()) {
  const { db, config } = await useAppContext()
  const pass = await runDueSchedules(db, { now, limits: config, log: line => console.warn(`[outport:schedules] ${line}`) })
  await announce(pass)
  const fed = await feedSchedulesBackfills()
  return { created: pass.created.length + fed.created, failed: pass.failed.length + fed.failed, paused: pass.paused.length + fed.paused, skipped: pass.skipped }
}

/** Starts the backfill runs there is room for (after a pass, a new backfill, a finished run) and announces those that could not start. */
export async function feedSchedulesBackfills() {
  const { db, config } = await useAppContext()
  const pass = await feedBackfills(db, config)
  await announce(pass)
  return { created: pass.created.length, failed: pass.failed.length, paused: pass.paused.length }
}

async function announce(pass: Pick<FeedPass, 'failed' | 'paused'>) {
  // Every channel, as for a run the worker finished.
  const notifications = await useNotifications()
  for (const job of pass.failed) notifications.jobFinished(job.id)
  for (const paused of pass.paused) {
    notifications.schedulePaused(paused, pass.failed.findLast(j => j.scheduleId === paused.schedule.id)?.error?.message ?? null)
  }
}

/** After a job ended (the worker's onFinished): a schedule's run updates its failure count. */
export async function settleScheduledRun(jobId: string): Promise<void> {
  const { db, config } = await useAppContext()
  const scheduleId = await scheduleOfJob(db, jobId)
  if (!scheduleId) return
  const paused = await settleSchedule(db, scheduleId, config.SCHEDULES_DISABLE_AFTER_FAILURES)
  if (paused) await announcePause(paused, jobId)
  // A backfill's next slot starts as soon as its previous run ends, not at the next pass.
  await feedSchedulesBackfills()
}

export async function announcePause(paused: PausedSchedule, jobId: string): Promise<void> {
  const { db } = await useAppContext()
  const job = await findExport(db, jobId)
  ;(await useNotifications()).schedulePaused(paused, job?.error?.message ?? null)
}
