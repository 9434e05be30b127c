import type { Config } from '../config'
import type { Db } from '../db/client'
import { Prisma, type Schedule as ScheduleRow } from '#server/generated/prisma/client'
import { isUuid } from '#shared/utils/uuid'
import type { FieldError } from '#shared/types/api'
import { CreateExportSchema } from '#shared/types/exports'
import { isIncrementalRange, type Cadence, type CreateSchedule, type ScheduleChannels, type ScheduleDTO, type ScheduleRange, type ScheduleRequest, type UpdateSchedule } from '#shared/types/schedules'
import { checkExportRequest } from '../exports/create'
import { scheduleRuns } from '../exports/jobs/scheduled'
import { fieldErrors, RequestError, ValidationError } from '../validation'
import { findDataset } from '../warehouse/datasets'
import { cadenceErrors, nextRunAfter } from '#shared/schedules/cadence'
import { maxRangeDays, resolveRange } from '#shared/schedules/range'
import { isoToUs, usToIso } from './watermark'

/**
 * Schedules as the API sees them: every read and write is scoped by the user, and another user's
 * schedule is indistinguishable from a missing one. The only module that touches the `schedules`
 * table besides the scheduler (scheduler.ts).
 */

export type ScheduleLimits = Pick<Config, 'SCHEDULES_MAX_PER_USER' | 'EXPORT_MAX_RANGE_DAYS'> & Partial<Pick<Config, 'SCHEDULES_MIN_INTERVAL_MINUTES'>>

export interface Schedule {
  id: string
  userId: string
  name: string | null
  enabled: boolean
  request: ScheduleRequest
  range: ScheduleRange
  cadence: Cadence
  channels: ScheduleChannels | null
  nextRunAt: Date | null
  consecutiveFailures: number
  pausedReason: string | null
  createdAt: Date
  updatedAt: Date
  /** An incremental schedule's watermark, microseconds since the epoch (watermark.ts). */
  watermarkUs: bigint | null
  missedSlots: number
}

export function toSchedule(row: ScheduleRow): Schedule {
  return {
    id: row.id,
    userId: row.userId,
    name: row.name,
    enabled: row.enabled,
    // Written only by this module, from the validated types.
    request: row.request as unknown as ScheduleRequest,
    range: row.range as unknown as ScheduleRange,
    cadence: row.cadence as unknown as Cadence,
    channels: (row.channels ?? null) as ScheduleChannels | null,
    nextRunAt: row.nextRunAt,
    consecutiveFailures: row.consecutiveFailures,
    pausedReason: row.pausedReason,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    watermarkUs: row.watermarkUs,
    missedSlots: row.missedSlots
  }
}

function json(value: object): Prisma.InputJsonValue {
  return value as Prisma.InputJsonValue
}

/**
 * Everything about a schedule's definition the schema cannot check: the cadence (cron syntax, at
 * most hourly), the range against the dataset and EXPORT_MAX_RANGE_DAYS, and the request with the
 * same checks as a new export (dataset, the user's accounts and tags, row filters), dated as its
 * next run would be. Returns the request to save: its row filters as the check normalised them.
 */
export async function checkScheduleDefinition(db: Db, limits: Pick<Config, 'EXPORT_MAX_RANGE_DAYS'> & Partial<Pick<Config, 'SCHEDULES_MIN_INTERVAL_MINUTES'>>, userId: string, s: { request: ScheduleRequest, range: ScheduleRange, cadence: Cadence }, now: Date): Promise<ScheduleRequest> {
  const errors: FieldError[] = [...cadenceErrors(s.cadence, now, limits.SCHEDULES_MIN_INTERVAL_MINUTES)]
  const dataset = findDataset(s.request.dataset_id)
  if (isIncrementalRange(s.range)) {
    // Load windows, not dates: EXPORT_MAX_RANGE_DAYS does not apply (each run takes what was loaded since the last).
    if (dataset && !dataset.incrementalColumn) {
      errors.push({ field: 'range', message: `${dataset.title} is aggregated and has no load time: "since_last_run" is only for row-level datasets (choose a date range)` })
    }
    if (errors.length) throw new ValidationError(errors)
    return checkSavedRequest(db, userId, s, now)
  }
  const days = maxRangeDays(s.range)
  if (dataset?.time_grain === 'monthly' && days !== null && !['previous_month', 'month_to_date', 'year_to_date'].includes(s.range as string)) {
    errors.push({ field: 'range', message: `${dataset.title} has one row per month: choose previous_month, month_to_date, year_to_date or all_dates` })
  }
  if (limits.EXPORT_MAX_RANGE_DAYS && (days === null || days > limits.EXPORT_MAX_RANGE_DAYS)) {
    errors.push({ field: 'range', message: `Exports cover at most ${limits.EXPORT_MAX_RANGE_DAYS} days; this range can cover ${days ?? 'all'} days` })
  }
  if (errors.length) throw new ValidationError(errors)
  return checkSavedRequest(db, userId, s, now)
}

async function checkSavedRequest(db: Db, userId: string, s: { request: ScheduleRequest, range: ScheduleRange, cadence: Cadence }, now: Date): Promise<ScheduleRequest> {
  // The saved request with the dates of a run: the export schema's own rules (including any across
  // fields) and createExport's checks, so a schedule cannot hold a request an export would refuse.
  const parsed = CreateExportSchema.safeParse({ ...s.request, ...resolveRange(s.range, now, s.cadence.time_zone) })
  if (!parsed.success) throw new ValidationError(fieldErrors(parsed.error))
  const { metadata } = await checkExportRequest(db, { EXPORT_MAX_RANGE_DAYS: undefined }, userId, parsed.data)
  return s.request.row_filters ? { ...s.request, row_filters: metadata.filters.row_filters } : s.request
}

function splitRequest(body: Partial<CreateSchedule>): Partial<ScheduleRequest> {
  const { range: _range, cadence: _cadence, name: _name, enabled: _enabled, channels: _channels, ...request } = body
  return request
}

export async function createSchedule(db: Db, limits: ScheduleLimits, userId: string, body: CreateSchedule, now = new Date()): Promise<Schedule> {
  const request = await checkScheduleDefinition(db, limits, userId, { request: splitRequest(body) as ScheduleRequest, range: body.range, cadence: body.cadence }, now)
  return db.$transaction(async (tx) => {
    // Serialises one user's creations, so two concurrent requests cannot both pass the limit.
    await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended(${`outport:schedules:${userId}`}, 0))`
    const count = await tx.schedule.count({ where: { userId } })
    if (count >= limits.SCHEDULES_MAX_PER_USER) {
      throw new ValidationError([{ field: '', message: `You already have ${count} schedules (the limit is ${limits.SCHEDULES_MAX_PER_USER}). Delete one to add another.` }])
    }
    const row = await tx.schedule.create({
      data: {
        userId,
        name: body.name || null,
        enabled: body.enabled,
        request: json(request),
        range: json(body.range as object),
        cadence: json(body.cadence),
        channels: channelsValue(body.channels),
        nextRunAt: body.enabled ? nextRunAfter(body.cadence, now) : null
      }
    })
    return toSchedule(row)
  })
}

export async function findUserSchedule(db: Db, userId: string, id: unknown): Promise<Schedule | null> {
  if (!isUuid(id)) return null
  const row = await db.schedule.findFirst({ where: { id: id.toLowerCase(), userId } })
  return row ? toSchedule(row) : null
}

export async function listUserSchedules(db: Db, userId: string): Promise<Schedule[]> {
  const rows = await db.schedule.findMany({ where: { userId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })
  return rows.map(toSchedule)
}

export const NOT_FOUND = () => new RequestError(404, 'Schedule not found')

/**
 * Changes any fields. Pausing clears next_run_at; resuming (or changing the cadence of an enabled
 * schedule) computes it from now, so a resumed schedule does not catch up on the slots it was
 * paused through, and starts again with a clean failure count.
 */
export async function updateSchedule(db: Db, limits: ScheduleLimits, userId: string, id: unknown, patch: UpdateSchedule, now = new Date()): Promise<Schedule> {
  const current = await findUserSchedule(db, userId, id)
  if (!current) throw NOT_FOUND()
  const patched = { ...current.request, ...stripUndefined(splitRequest(patch)) } as ScheduleRequest
  const range = patch.range ?? current.range
  const cadence = patch.cadence ?? current.cadence
  const definitionChanged = Object.keys(splitRequest(patch)).length > 0 || patch.range !== undefined || patch.cadence !== undefined
  const request = definitionChanged ? await checkScheduleDefinition(db, limits, userId, { request: patched, range, cadence }, now) : patched
  const enabled = patch.enabled ?? current.enabled
  const resumed = enabled && !current.enabled
  const data: Prisma.ScheduleUpdateInput = {
    request: json(request),
    range: json(range as object),
    cadence: json(cadence),
    enabled,
    ...(patch.name !== undefined && { name: patch.name || null }),
    ...(patch.channels !== undefined && { channels: channelsValue(patch.channels) }),
    ...(!enabled && { nextRunAt: null }),
    ...(enabled && (resumed || patch.cadence !== undefined) && { nextRunAt: nextRunAfter(cadence, now) }),
    ...(resumed && { consecutiveFailures: 0, pausedReason: null }),
    // Another dataset's load times say nothing about this one's: its next run is a first run.
    ...(request.dataset_id !== current.request.dataset_id && { watermarkUs: null })
  }
  const { count } = await db.schedule.updateMany({ where: { id: current.id, userId }, data: data as Prisma.ScheduleUpdateManyMutationInput })
  if (!count) throw NOT_FOUND()
  return (await findUserSchedule(db, userId, current.id))!
}

export async function deleteSchedule(db: Db, userId: string, id: unknown): Promise<boolean> {
  if (!isUuid(id)) return false
  const { count } = await db.schedule.deleteMany({ where: { id: id.toLowerCase(), userId } })
  return count === 1
}

// An empty choice ({}) is no choice: stored as NULL, so the user's settings decide.
function channelsValue(channels: ScheduleChannels | null | undefined): Prisma.InputJsonValue | typeof Prisma.DbNull {
  return channels && Object.keys(channels).length ? json(channels) : Prisma.DbNull
}

/** A schedule's own notification channels (null: the user's settings), for its runs' notifiers. */
export async function scheduleChannels(db: Db, scheduleId: string): Promise<ScheduleChannels | null> {
  const row = await db.schedule.findUnique({ where: { id: scheduleId }, select: { channels: true } })
  return (row?.channels ?? null) as ScheduleChannels | null
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

/** The schedules as the API shows them, each with its latest runs. */
export async function toScheduleDTOs(db: Db, schedules: Schedule[]): Promise<ScheduleDTO[]> {
  const runs = await scheduleRuns(db, schedules.map(s => s.id))
  return schedules.map((s) => {
    const { last: run, recent } = runs.get(s.id)!
    return {
      id: s.id,
      name: s.name,
      enabled: s.enabled,
      paused_reason: s.pausedReason,
      request: s.request,
      range: s.range,
      cadence: s.cadence,
      channels: s.channels,
      next_run_at: s.nextRunAt?.toISOString() ?? null,
      last_run: run ? { job_id: run.jobId, status: run.status, at: run.at.toISOString() } : null,
      recent_runs: recent.map(r => ({ id: r.id, status: r.status, created_at: r.createdAt.toISOString() })),
      consecutive_failures: s.consecutiveFailures,
      created_at: s.createdAt.toISOString(),
      updated_at: s.updatedAt.toISOString(),
      watermark: isIncrementalRange(s.range) && s.watermarkUs !== null ? usToIso(s.watermarkUs) : null,
      missed_slots: s.missedSlots
    }
  })
}

/**
 * Sets an incremental schedule's watermark: its next run exports the rows loaded after it (null:
 * the next run is a first run, with the range's `initial`). A run under way keeps its window, and
 * its completion leaves the reset watermark alone (it moves the watermark only from its own start).
 */
export async function resetWatermark(db: Db, userId: string, id: unknown, watermark: string | null): Promise<Schedule> {
  const current = await findUserSchedule(db, userId, id)
  if (!current) throw NOT_FOUND()
  if (!isIncrementalRange(current.range)) throw new ValidationError([{ field: 'range', message: 'Only a schedule whose range is "since_last_run" has a watermark' }])
  await db.schedule.updateMany({ where: { id: current.id, userId }, data: { watermarkUs: watermark === null ? null : isoToUs(watermark) } })
  return (await findUserSchedule(db, userId, current.id))!
}
