import type { Config } from '../config'
import type { Db } from '../db/client'
import { Prisma, type Schedule as ScheduleRow } from '#server/generated/prisma/client'
import { CreateExportSchema, type ExportError, type ExportMetadata, type ScheduleRunInfo } from '#shared/types/exports'
import { isIncrementalRange } from '#shared/types/schedules'
import { checkExportRequest } from '../exports/create'
import { consecutiveFailedRuns, hasRunningRun, insertScheduledRun } from '../exports/jobs/scheduled'
import type { ExportJob } from '../exports/jobs/record'
import { JobLimitError } from '../exports/jobs/submit'
import { RequestError, ValidationError } from '../validation'
import { dueSlot } from '#shared/schedules/cadence'
import { resolveRange } from '#shared/schedules/range'
import { NOT_FOUND, toSchedule, type Schedule } from './store'

/**
 * The scheduler: turns due schedules into export jobs. Any number of processes may run it at once:
 * each pass claims due schedules with FOR UPDATE SKIP LOCKED and, in the same transaction, creates
 * each one's job and advances its next_run_at, so a schedule's slot is taken by one pass only;
 * the unique (schedule_id, scheduled_for) key on jobs makes a double run impossible even if two
 * passes ever saw the same slot. The clock is an input: tests drive it, nothing here sleeps.
 */

export type SchedulerLimits = Pick<Config, 'EXPORT_MAX_RANGE_DAYS' | 'SCHEDULES_DISABLE_AFTER_FAILURES'>

export interface SchedulerOptions {
  now: Date
  limits: SchedulerLimits
  /** Schedules per transaction. */
  batchSize?: number
  log?: (line: string) => void
}

export interface PausedSchedule { schedule: Schedule, failures: number }

export interface SchedulerPass {
  /** Runs created (pending), and runs recorded as failed at once (their filters are gone). */
  created: ExportJob[]
  failed: ExportJob[]
  /** Schedules this pass paused after too many failures in a row: tell their users. */
  paused: PausedSchedule[]
  /** Slots skipped because the schedule's previous run was still running. */
  skipped: number
}

const SCHEDULE_COLUMNS = Object.values(Prisma.ScheduleScalarFieldEnum)
  .map(field => `${field.replace(/[A-Z]/g, c => `_${c.toLowerCase()}`)} AS "${field}"`)
  .join(', ')

export async function runDueSchedules(db: Db, opts: SchedulerOptions): Promise<SchedulerPass> {
  const batchSize = opts.batchSize ?? 25
  const pass: SchedulerPass = { created: [], failed: [], paused: [], skipped: 0 }
  for (;;) {
    const claimed = await db.$transaction(async (tx) => {
      const rows = await tx.$queryRawUnsafe<ScheduleRow[]>(`
        SELECT ${SCHEDULE_COLUMNS} FROM schedules
        WHERE enabled AND next_run_at <= $1::timestamptz
        ORDER BY next_run_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED`, opts.now, batchSize)
      for (const row of rows) {
        const schedule = toSchedule(row)
        const due = dueSlot(schedule.cadence, schedule.nextRunAt!, opts.now)!
        // A slow run is never overlapped by the schedule's next slot: the slot is skipped and counted.
        if (await hasRunningRun(tx, schedule.id)) {
          opts.log?.(`schedule ${schedule.id}: slot ${due.slot.toISOString()} skipped; its previous run is still running`)
          await tx.schedule.update({ where: { id: schedule.id }, data: { nextRunAt: due.next, missedSlots: { increment: 1 + due.missed } } })
          pass.skipped++
          continue
        }
        if (due.missed) opts.log?.(`schedule ${schedule.id}: catch-up run for ${due.slot.toISOString()}; ${due.missed} earlier slot(s) skipped`)
        const job = await createRun(tx, schedule, { scheduledFor: due.slot, trigger: 'cadence', missed: due.missed, limits: opts.limits })
        // A cron that never matches again leaves the schedule enabled with nothing due.
        await tx.schedule.update({ where: { id: schedule.id }, data: { nextRunAt: due.next } })
        if (!job) continue
        if (job.status === 'failed') {
          pass.failed.push(job)
          const paused = await settleSchedule(tx, schedule.id, opts.limits.SCHEDULES_DISABLE_AFTER_FAILURES)
          if (paused) pass.paused.push(paused)
        } else {
          pass.created.push(job)
        }
      }
      return rows.length
    }, { timeout: 60_000, maxWait: 30_000 })
    if (claimed < batchSize) return pass
  }
}

/**
 * Run now, outside the cadence: counts as a run (last run, failure count) but leaves next_run_at
 * alone. Unlike the scheduler's runs it is a user's request, so it is refused (429) like a new
 * export when the user already has EXPORT_MAX_ACTIVE_PER_USER exports waiting or running.
 */
export async function runScheduleNow(
  db: Db,
  limits: SchedulerLimits & Pick<Config, 'EXPORT_MAX_ACTIVE_PER_USER'>,
  userId: string,
  scheduleId: string,
  now = new Date()
): Promise<{ job: ExportJob, paused: PausedSchedule | null }> {
  try {
    return await db.$transaction(async (tx) => {
      const [row] = await tx.$queryRawUnsafe<ScheduleRow[]>(`
        SELECT ${SCHEDULE_COLUMNS} FROM schedules WHERE id = $1::uuid AND user_id = $2::uuid FOR UPDATE`, scheduleId, userId)
      if (!row) throw NOT_FOUND()
      const schedule = toSchedule(row)
      const job = await createRun(tx, schedule, { scheduledFor: now, trigger: 'run_now', missed: 0, limits, maxActivePerUser: limits.EXPORT_MAX_ACTIVE_PER_USER })
      // Two run-nows in the same millisecond: the second is the first.
      if (!job) throw new RequestError(409, 'This schedule was just run; try again')
      const paused = job.status === 'failed' ? await settleSchedule(tx, schedule.id, limits.SCHEDULES_DISABLE_AFTER_FAILURES) : null
      return { job, paused }
    })
  } catch (error) {
    if (error instanceof JobLimitError) throw new RequestError(429, error.message, { data: { code: error.code }, retryAfterSeconds: 30 })
    throw error
  }
}

export interface RunOptions {
  scheduledFor: Date
  trigger: ScheduleRunInfo['trigger']
  missed: number
  limits: Pick<Config, 'EXPORT_MAX_RANGE_DAYS'>
  maxActivePerUser?: number
}

/**
 * The schedule's run for a slot: its request with the range resolved in the schedule's time zone
 * at the slot, checked as a new export would be. A request that no longer passes (accounts or tags
 * deleted, the dataset gone) becomes a failed run with an error saying why, rather than no run.
 */
export async function createRun(tx: Prisma.TransactionClient, schedule: Schedule, run: RunOptions): Promise<ExportJob | null> {
  const dates = resolveRange(schedule.range, run.scheduledFor, schedule.cadence.time_zone)
  const info = { name: schedule.name, trigger: run.trigger, missed_slots: run.missed }
  // Its window is fixed when it starts, not now (server/lib/exports/jobs/incremental.ts).
  const incremental = isIncrementalRange(schedule.range)
    ? { incremental: { initial_start_date: schedule.range.initial === 'all' ? null : schedule.range.initial.start_date } }
    : {}
  const fallback: ExportMetadata = {
    dataset_id: schedule.request.dataset_id,
    dataset_name: schedule.request.dataset_id,
    format: schedule.request.format,
    filters: { ...dates, account_ids: schedule.request.account_ids ?? [], tag_ids: schedule.request.tag_ids ?? [], row_filters: schedule.request.row_filters ?? [] },
    schedule: info,
    ...incremental
  }
  let metadata = fallback
  let failure: ExportError | undefined
  const parsed = CreateExportSchema.safeParse({ ...schedule.request, ...dates })
  if (!parsed.success) {
    failure = { code: 'INVALID_SCHEDULE', message: `The schedule's saved export is no longer valid (${parsed.error.issues[0]?.message}). Edit the schedule.` }
  } else {
    try {
      const limits = incremental.incremental ? { EXPORT_MAX_RANGE_DAYS: undefined } : run.limits
      metadata = { ...(await checkExportRequest(tx, limits, schedule.userId, parsed.data)).metadata, schedule: info, ...incremental }
    } catch (error) {
      failure = runFailure(error)
    }
  }
  return insertScheduledRun(tx, {
    userId: schedule.userId,
    scheduleId: schedule.id,
    scheduledFor: run.scheduledFor,
    metadata,
    failure,
    maxActivePerUser: run.maxActivePerUser
  })
}

// A condition's column can only be refused for not being in the dataset (the name was checked when saved).
const ROW_FILTER_COLUMN = /^row_filters\[\d+\]\.column$/

function runFailure(error: unknown): ExportError {
  if (error instanceof ValidationError) {
    const columnsGone = error.errors.filter(e => ROW_FILTER_COLUMN.test(e.field))
    if (columnsGone.length) {
      return { code: 'FILTER_COLUMN_GONE', message: `The schedule's row filters name columns the dataset no longer has (${columnsGone.map(e => e.message).join('; ')}). Edit the schedule's conditions.` }
    }
    const gone = error.errors.filter(e => e.field === 'account_ids' || e.field === 'tag_ids')
    if (gone.length) {
      const what = gone.map(e => (e.field === 'account_ids' ? 'accounts' : 'tags')).join(' and ')
      return { code: 'FILTERS_GONE', message: `Some of the schedule's ${what} no longer exist (deleted since the schedule was saved). Edit the schedule's filters.` }
    }
    return { code: 'INVALID_SCHEDULE', message: `The schedule's export is no longer allowed: ${error.errors.map(e => e.message).join('; ')}. Edit the schedule.` }
  }
  if (error instanceof RequestError && error.statusCode === 404) {
    return { code: 'DATASET_NOT_FOUND', message: 'The schedule\'s dataset is no longer available. Delete the schedule or choose another dataset.' }
  }
  throw error
}

/**
 * Recounts the schedule's failed runs in a row (from the runs themselves, so counting the same
 * outcome twice changes nothing) and pauses it at the threshold. Returns the schedule only when this
 * call paused it, so its user is told once.
 */
export async function settleSchedule(db: Db | Prisma.TransactionClient, scheduleId: string, threshold: number): Promise<PausedSchedule | null> {
  const failures = await consecutiveFailedRuns(db, scheduleId)
  await db.schedule.updateMany({ where: { id: scheduleId }, data: { consecutiveFailures: failures } })
  if (failures < threshold) return null
  const { count } = await db.schedule.updateMany({
    where: { id: scheduleId, enabled: true },
    data: { enabled: false, nextRunAt: null, pausedReason: `Paused after ${failures} failed runs in a row` }
  })
  if (!count) return null
  const row = await db.schedule.findUnique({ where: { id: scheduleId } })
  return row ? { schedule: toSchedule(row), failures } : null
}
