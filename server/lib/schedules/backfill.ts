import type { Config } from '../config'
import type { Db } from '../db/client'
import { isUuid } from '#shared/utils/uuid'
import { isIncrementalRange, type BackfillDTO, type CreateBackfill } from '#shared/types/schedules'
import { backfillMayStart, backfillProgress, cancelPendingJobs, slotsWithoutRun } from '../exports/jobs/scheduled'
import type { ExportJob } from '../exports/jobs/record'
import { lockUserSubmissions } from '../exports/jobs/submit'
import { RequestError, ValidationError } from '../validation'
import { slotsBetween } from '#shared/schedules/cadence'
import { createRun, settleSchedule, type PausedSchedule } from './scheduler'
import { findUserSchedule, NOT_FOUND, toSchedule } from './store'

/**
 * Backfills: a schedule run for its past slots, each with the range it would have had at its slot.
 * The slots wait in backfill_slots, keyed (schedule, slot) so overlapping backfills add each slot
 * once, and one that already ran (the cadence, an earlier backfill) is not added at all. The
 * feeder makes each one a job, one at a time per user, behind the user's own exports and within
 * their active limit (backfillMayStart), so a backfill of 400 slots never blocks the user's exports.
 */

export type BackfillLimits = Pick<Config, 'SCHEDULES_BACKFILL_MAX_SLOTS'>

export async function createBackfill(db: Db, limits: BackfillLimits, userId: string, scheduleId: unknown, window: CreateBackfill, now = new Date()): Promise<{ backfillId: string, slots: number }> {
  const schedule = await findUserSchedule(db, userId, scheduleId)
  if (!schedule) throw NOT_FOUND()
  if (isIncrementalRange(schedule.range)) {
    throw new ValidationError([{ field: 'range', message: 'An incremental schedule ("since_last_run") has no past slots to run: reset its watermark instead (POST …/reset)' }])
  }
  const start = new Date(window.start)
  const end = new Date(window.end)
  if (end.getTime() > now.getTime()) throw new ValidationError([{ field: 'end', message: 'Must not be in the future (the cadence runs those slots)' }])
  const slots = slotsBetween(schedule.cadence, start, end, limits.SCHEDULES_BACKFILL_MAX_SLOTS)
  if (!slots) {
    throw new ValidationError([{ field: 'end', message: `The window has more than ${limits.SCHEDULES_BACKFILL_MAX_SLOTS} slots of the schedule's cadence (SCHEDULES_BACKFILL_MAX_SLOTS); choose a shorter window` }])
  }
  return db.$transaction(async (tx) => {
    const backfill = await tx.scheduleBackfill.create({ data: { scheduleId: schedule.id, userId, startAt: start, endAt: end, slotCount: 0 } })
    // A slot whose run the cadence creates meanwhile is dropped by the feeder (createRun finds it taken).
    const open = await slotsWithoutRun(tx, schedule.id, slots)
    const { count: added } = await tx.backfillSlot.createMany({
      data: open.map(slot => ({ scheduleId: schedule.id, slot, backfillId: backfill.id, userId })),
      skipDuplicates: true
    })
    await tx.scheduleBackfill.update({ where: { id: backfill.id }, data: { slotCount: added } })
    return { backfillId: backfill.id, slots: added }
  })
}

export interface FeedPass {
  created: ExportJob[]
  /** Runs that could not start (their filters are gone): announce them like any failed run. */
  failed: ExportJob[]
  paused: PausedSchedule[]
}

/**
 * Makes waiting backfill slots jobs where their users have room: at most one backfill run per
 * user at a time. Called by the scheduler's pass, after a backfill is created, and when a run ends.
 */
export async function feedBackfills(db: Db, limits: Pick<Config, 'EXPORT_MAX_ACTIVE_PER_USER' | 'EXPORT_MAX_RANGE_DAYS' | 'SCHEDULES_DISABLE_AFTER_FAILURES'>): Promise<FeedPass> {
  const pass: FeedPass = { created: [], failed: [], paused: [] }
  const users = await db.$queryRaw<Array<{ user_id: string }>>`SELECT DISTINCT user_id FROM backfill_slots WHERE job_id IS NULL`
  for (const { user_id: userId } of users) {
    // A run that failed at once (filters gone) leaves the place free: the next slot goes.
    for (;;) {
      const job = await db.$transaction(async (tx) => {
        await lockUserSubmissions(tx, userId)
        if (!await backfillMayStart(tx, userId, limits.EXPORT_MAX_ACTIVE_PER_USER)) return null
        // A paused schedule's slots wait for it to be resumed, as its cadence does.
        const [slot] = await tx.$queryRaw<Array<{ schedule_id: string, slot: Date }>>`
          SELECT b.schedule_id, b.slot FROM backfill_slots b JOIN schedules s ON s.id = b.schedule_id
          WHERE b.user_id = ${userId}::uuid AND b.job_id IS NULL AND s.enabled
          ORDER BY b.slot, b.schedule_id LIMIT 1 FOR UPDATE OF b SKIP LOCKED`
        if (!slot) return null
        const row = await tx.schedule.findUnique({ where: { id: slot.schedule_id } })
        const created = row && await createRun(tx, toSchedule(row), { scheduledFor: slot.slot, trigger: 'backfill', missed: 0, limits })
        const key = { scheduleId_slot: { scheduleId: slot.schedule_id, slot: slot.slot } }
        // The slot got its run meanwhile (the cadence's, a run-now at that instant): nothing to add.
        if (!created) await tx.backfillSlot.delete({ where: key })
        else await tx.backfillSlot.update({ where: key, data: { jobId: created.id } })
        if (created?.status === 'failed') {
          const paused = await settleSchedule(tx, slot.schedule_id, limits.SCHEDULES_DISABLE_AFTER_FAILURES)
          if (paused) pass.paused.push(paused)
        }
        return created ?? 'next' as const
      })
      if (job === null) break
      if (job === 'next') continue
      if (job.status !== 'failed') {
        pass.created.push(job)
        break
      }
      pass.failed.push(job)
    }
  }
  return pass
}

export async function listBackfills(db: Db, userId: string, scheduleId: unknown): Promise<BackfillDTO[]> {
  const schedule = await findUserSchedule(db, userId, scheduleId)
  if (!schedule) throw NOT_FOUND()
  const rows = await backfillProgress(db, userId, schedule.id)
  return rows.map(r => ({
    backfill_id: r.id,
    start: r.start_at.toISOString(),
    end: r.end_at.toISOString(),
    slots: r.slot_count,
    done: r.done,
    failed: r.failed,
    pending: r.pending,
    cancelled_at: r.cancelled_at?.toISOString() ?? null,
    created_at: r.created_at.toISOString()
  }))
}

/** Cancels what has not started: the slots still waiting, and runs queued but not claimed. Returns how many. */
export async function cancelBackfill(db: Db, userId: string, scheduleId: unknown, backfillId: unknown): Promise<number> {
  const schedule = await findUserSchedule(db, userId, scheduleId)
  if (!schedule || !isUuid(backfillId)) throw new RequestError(404, 'Backfill not found')
  return db.$transaction(async (tx) => {
    const backfill = await tx.scheduleBackfill.findFirst({ where: { id: backfillId.toLowerCase(), scheduleId: schedule.id, userId } })
    if (!backfill) throw new RequestError(404, 'Backfill not found')
    // Deleted rather than marked: a later backfill over the same window may add them again.
    const { count: waiting } = await tx.backfillSlot.deleteMany({ where: { backfillId: backfill.id, jobId: null } })
    const queued = await tx.backfillSlot.findMany({ where: { backfillId: backfill.id, jobId: { not: null } }, select: { jobId: true } })
    const cancelled = await cancelPendingJobs(tx, queued.map(s => s.jobId!))
    await tx.scheduleBackfill.updateMany({ where: { id: backfill.id, cancelledAt: null }, data: { cancelledAt: new Date() } })
    return waiting + cancelled
  })
}
