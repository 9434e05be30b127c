import { z } from 'zod'
import { CreateExportSchema } from './exports'
import { JobStatusSchema } from './jobs'
import { CHANNEL_KEYS, type ChannelKey } from './notifications'
import { storedText } from './text'
import { describeCron } from '../schedules/cron-words'

/** Recurring exports: a saved export request, a relative date range and a cadence (snake_case, as the API). */

export const SCHEDULE_NAME_MAX = 100

/**
 * The saved export request: what POST /api/analytics/exports accepts, without the dates (a
 * schedule's dates come from its `range` at each run). Built from CreateExportSchema's fields, so
 * export options added there flow into schedules; the engine also checks the resolved request
 * against CreateExportSchema itself, so its cross-field rules apply too.
 */
export const ScheduleRequestSchema = z.strictObject(CreateExportSchema.shape).omit({ start_date: true, end_date: true })

export type ScheduleRequest = z.output<typeof ScheduleRequestSchema>

export const RELATIVE_RANGES = ['previous_day', 'previous_week', 'previous_month', 'month_to_date', 'year_to_date', 'all_dates'] as const
export type RelativeRange = typeof RELATIVE_RANGES[number]

export const MAX_LAST_N_DAYS = 366

/**
 * "Only new rows since the last run": each run exports the rows loaded into the warehouse after the
 * last completed run's cutoff. `initial` is what the first run (or the first after a reset to null)
 * takes: every row, or the rows dated from `start_date` on.
 */
export const IncrementalRangeSchema = z.strictObject({
  type: z.literal('since_last_run'),
  initial: z.union([
    z.literal('all'),
    z.strictObject({ start_date: z.iso.date('Must be a date as YYYY-MM-DD') })
  ], 'Must be "all" or { start_date: YYYY-MM-DD }')
})

export type IncrementalRange = z.output<typeof IncrementalRangeSchema>

export const ScheduleRangeSchema = z.union([
  z.enum(RELATIVE_RANGES, `Must be one of ${RELATIVE_RANGES.join(', ')} or { last_n_days: N }`),
  z.strictObject({ last_n_days: z.number().int().min(1).max(MAX_LAST_N_DAYS, `At most ${MAX_LAST_N_DAYS} days`) }),
  IncrementalRangeSchema
], `Must be one of ${RELATIVE_RANGES.join(', ')}, { last_n_days: 1-${MAX_LAST_N_DAYS} } or { type: "since_last_run", initial }`)

export type ScheduleRange = z.output<typeof ScheduleRangeSchema>

export function isIncrementalRange(range: ScheduleRange): range is IncrementalRange {
  return typeof range === 'object' && 'type' in range && range.type === 'since_last_run'
}

export const FREQUENCIES = ['minutes', 'daily', 'weekly', 'monthly'] as const
export type Frequency = typeof FREQUENCIES[number]

/** The steps of a `minutes` cadence (each divides the hour, so slots fall on the same minutes every hour). */
export const MINUTE_STEPS = [5, 10, 15, 30] as const

/** Whether the runtime (Node or the browser) knows this IANA time zone. */
export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value })
    return true
  } catch {
    return false
  }
}

const TimeZoneSchema = z.string().min(1, 'Required').max(64).refine(isTimeZone, 'Unknown time zone (use an IANA name such as Europe/London)')

/** Every N minutes, on the minutes of the hour divisible by N (local time; an hour repeated by DST runs twice). */
export const MinutesCadenceSchema = z.object({
  frequency: z.literal('minutes'),
  every: z.union(MINUTE_STEPS.map(n => z.literal(n))).meta({ description: 'Minutes between runs: 5, 10, 15 or 30' }),
  time_zone: z.string().meta({ description: 'IANA time zone', example: 'Europe/London' })
})

export type MinutesCadence = z.infer<typeof MinutesCadenceSchema>

export const SimpleCadenceSchema = z.object({
  frequency: z.enum(['daily', 'weekly', 'monthly']),
  /** Local wall-clock time, HH:MM (24 h). */
  time: z.string().meta({ description: 'Local wall-clock time, HH:MM (24 h)', example: '08:00' }),
  /** ISO weekday, 1 = Monday … 7 = Sunday (weekly only). */
  weekday: z.int().min(1).max(7).optional().meta({ description: 'ISO weekday, 1 = Monday … 7 = Sunday (weekly only)' }),
  /** 1-28, or the last day of each month (monthly only). */
  day_of_month: z.union([z.int().min(1).max(28), z.literal('last')]).optional().meta({ description: '1-28 or "last" (monthly only)' }),
  time_zone: z.string().meta({ description: 'IANA time zone', example: 'Europe/London' })
})

export type SimpleCadence = z.infer<typeof SimpleCadenceSchema>

export const CronCadenceSchema = z.object({
  /** A standard 5-field cron expression (minute hour day-of-month month day-of-week), local time. */
  cron: z.string().meta({ description: 'A 5-field cron expression (minute hour day-of-month month day-of-week), local time' }),
  time_zone: z.string()
})

export type CronCadence = z.infer<typeof CronCadenceSchema>

/** A saved cadence, as the API answers it. */
export const CadenceDTOSchema = z.union([SimpleCadenceSchema, CronCadenceSchema, MinutesCadenceSchema]).meta({ id: 'Cadence' })

export type Cadence = SimpleCadence | CronCadence | MinutesCadence

export function isCronCadence(cadence: Cadence): cadence is CronCadence {
  return 'cron' in cadence && typeof cadence.cron === 'string'
}

export function isMinutesCadence(cadence: Cadence): cadence is MinutesCadence {
  return 'frequency' in cadence && cadence.frequency === 'minutes'
}

/**
 * One object rather than a union, so every refusal names its field (`cadence.weekday`, not just
 * `cadence`). Whether a cron expression parses and runs at most hourly is checked by the engine
 * (shared/schedules/cadence.ts), which has the cron library.
 */
export const CadenceSchema = z.strictObject({
  frequency: z.enum(FREQUENCIES, `Must be one of ${FREQUENCIES.join(', ')}`).optional(),
  time: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'Must be a time as HH:MM (00:00-23:59)').optional(),
  every: z.union(MINUTE_STEPS.map(n => z.literal(n)), `Must be one of ${MINUTE_STEPS.join(', ')}`).optional(),
  weekday: z.number().int().min(1, 'Must be 1 (Monday) to 7 (Sunday)').max(7, 'Must be 1 (Monday) to 7 (Sunday)').optional(),
  day_of_month: z.union([z.number().int().min(1).max(28), z.literal('last')], 'Must be 1-28 or "last"').optional(),
  cron: z.string().trim().max(120).regex(/^\S+(\s+\S+){4}$/, 'Must be a 5-field cron expression (minute hour day month weekday)').optional(),
  time_zone: TimeZoneSchema
}).superRefine((c, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message })
  if (c.cron !== undefined) {
    for (const key of ['frequency', 'time', 'weekday', 'day_of_month', 'every'] as const) {
      if (c[key] !== undefined) issue(key, 'Not allowed with cron')
    }
    return
  }
  if (!c.frequency) return issue('frequency', 'Required (or give cron)')
  if (c.frequency === 'minutes') {
    if (c.every === undefined) issue('every', 'Required for a minutes cadence')
    for (const key of ['time', 'weekday', 'day_of_month'] as const) {
      if (c[key] !== undefined) issue(key, 'Not allowed with a minutes cadence')
    }
    return
  }
  if (c.every !== undefined) issue('every', 'Only for a minutes cadence')
  if (!c.time) issue('time', 'Required')
  if (c.frequency === 'weekly' && c.weekday === undefined) issue('weekday', 'Required for a weekly cadence')
  if (c.frequency !== 'weekly' && c.weekday !== undefined) issue('weekday', 'Only for a weekly cadence')
  if (c.frequency === 'monthly' && c.day_of_month === undefined) issue('day_of_month', 'Required for a monthly cadence')
  if (c.frequency !== 'monthly' && c.day_of_month !== undefined) issue('day_of_month', 'Only for a monthly cadence')
}).transform((c): Cadence => c.cron !== undefined
  ? { cron: c.cron, time_zone: c.time_zone }
  : c.frequency === 'minutes'
    ? { frequency: 'minutes', every: c.every!, time_zone: c.time_zone }
    : {
        frequency: c.frequency as SimpleCadence['frequency'],
        time: c.time!,
        ...(c.weekday !== undefined && { weekday: c.weekday }),
        ...(c.day_of_month !== undefined && { day_of_month: c.day_of_month }),
        time_zone: c.time_zone
      })

/**
 * A schedule's own choice of notification channels: `true` announces every run's outcome on that
 * channel, `false` none; a channel left out, or `channels: null`, follows the user's notification
 * settings (for webhooks: each endpoint's subscribed events).
 */
export const ScheduleChannelsSchema = z.strictObject(
  Object.fromEntries(CHANNEL_KEYS.map(key => [key, z.boolean().optional()])) as Record<ChannelKey, z.ZodOptional<z.ZodBoolean>>
)

export type ScheduleChannels = z.output<typeof ScheduleChannelsSchema>

const NameSchema = storedText({ max: SCHEDULE_NAME_MAX })

/** POST /api/analytics/schedules: the export request (without dates) plus range, cadence, name, enabled. */
export const CreateScheduleSchema = ScheduleRequestSchema.extend({
  range: ScheduleRangeSchema,
  cadence: CadenceSchema,
  name: NameSchema.nullish(),
  enabled: z.boolean().default(true),
  channels: ScheduleChannelsSchema.nullish()
})

export type CreateScheduleInput = z.input<typeof CreateScheduleSchema>
export type CreateSchedule = z.output<typeof CreateScheduleSchema>

/** PATCH: any field; the request's fields replace the saved ones one by one. */
export const UpdateScheduleSchema = ScheduleRequestSchema.partial().extend({
  range: ScheduleRangeSchema.optional(),
  cadence: CadenceSchema.optional(),
  name: NameSchema.nullish(),
  enabled: z.boolean().optional(),
  channels: ScheduleChannelsSchema.nullish()
})

export type UpdateSchedule = z.output<typeof UpdateScheduleSchema>

const timestamp = z.iso.datetime()

export const ScheduleLastRunSchema = z.object({
  job_id: z.guid(),
  status: JobStatusSchema,
  /** When the run was due (its slot), or for a run-now when it was asked for. */
  at: timestamp.meta({ description: 'When the run was due (its slot), or for a run-now when it was asked for' })
})

export type ScheduleLastRunDTO = z.infer<typeof ScheduleLastRunSchema>

export const ScheduleRecentRunSchema = z.object({
  id: z.guid(),
  status: JobStatusSchema,
  created_at: timestamp
})

export type ScheduleRecentRunDTO = z.infer<typeof ScheduleRecentRunSchema>

/** A schedule as the API answers it. */
export const ScheduleSchema = z.object({
  id: z.guid(),
  name: z.string().nullable(),
  enabled: z.boolean(),
  /** Why it is paused when the server paused it (repeated failures); null otherwise. */
  paused_reason: z.string().nullable().meta({ description: 'Why the server paused it (repeated failures); null otherwise' }),
  request: ScheduleRequestSchema,
  range: ScheduleRangeSchema,
  cadence: CadenceDTOSchema,
  channels: ScheduleChannelsSchema.nullable().meta({ description: 'The schedule\'s own notification channels; null: the user\'s settings decide' }),
  /** Null while paused. */
  next_run_at: timestamp.nullable().meta({ description: 'Null while paused' }),
  last_run: ScheduleLastRunSchema.nullable(),
  recent_runs: z.array(ScheduleRecentRunSchema).max(10).meta({ description: 'The schedule\'s latest 10 runs (run-now and backfill runs included), newest first' }),
  consecutive_failures: z.int().min(0),
  created_at: timestamp,
  updated_at: timestamp,
  watermark: timestamp.nullable().meta({ description: 'An incremental schedule: the load time (`loaded_at`) its completed runs have exported up to; its next run exports rows loaded after it. Null before the first completed run (or after a reset to null), and for other ranges' }),
  missed_slots: z.int().min(0).meta({ description: 'Slots skipped because the previous run was still running when they came (counted since the schedule was created)' })
}).meta({ id: 'Schedule' })

export type ScheduleDTO = z.infer<typeof ScheduleSchema>

export const ScheduleListSchema = z.object({ schedules: z.array(ScheduleSchema) })

/** POST /api/analytics/schedules/{id}/reset: sets an incremental schedule's watermark (null: start over with `initial`). */
export const ResetScheduleSchema = z.strictObject({
  watermark: timestamp.nullable().meta({ description: 'ISO 8601 instant: the next run exports rows loaded after it; null: the next run is a first run again (its range\'s `initial`)' })
})

export type ResetSchedule = z.output<typeof ResetScheduleSchema>

/** POST /api/analytics/schedules/{id}/backfill: run the schedule for its slots in [start, end). */
export const CreateBackfillSchema = z.strictObject({
  start: timestamp.meta({ description: 'The window\'s start (inclusive)', example: '2026-11-01T00:00:00Z' }),
  end: timestamp.meta({ description: 'The window\'s end (exclusive)', example: '2026-11-08T00:00:00Z' })
}).refine(b => Date.parse(b.start) < Date.parse(b.end), { path: ['end'], message: 'Must be after start' })

export type CreateBackfill = z.output<typeof CreateBackfillSchema>

export const BackfillCreatedSchema = z.object({
  backfill_id: z.guid(),
  slots: z.int().min(0).meta({ description: 'Runs this backfill added: the cadence\'s slots in the window that had no run yet (a slot that already has one is not added twice)' })
})

export const BackfillSchema = z.object({
  backfill_id: z.guid(),
  start: timestamp,
  end: timestamp,
  slots: z.int().min(0),
  done: z.int().min(0).meta({ description: 'Runs that completed' }),
  failed: z.int().min(0).meta({ description: 'Runs that failed, or were cancelled or deleted' }),
  pending: z.int().min(0).meta({ description: 'Runs waiting or running (they start one at a time, behind the user\'s own exports)' }),
  cancelled_at: timestamp.nullable(),
  created_at: timestamp
}).meta({ id: 'Backfill' })

export type BackfillDTO = z.infer<typeof BackfillSchema>

export const BackfillListSchema = z.object({ backfills: z.array(BackfillSchema) })

/** "Every Monday at 08:00 (Europe/London)": a cadence in words, for the app and messages. */
export function describeCadence(cadence: Cadence): string {
  if (isCronCadence(cadence)) return `${describeCron(cadence.cron) ?? `Cron “${cadence.cron}”`} (${cadence.time_zone})`
  if (isMinutesCadence(cadence)) return `Every ${cadence.every} minutes (${cadence.time_zone})`
  const at = `at ${cadence.time} (${cadence.time_zone})`
  if (cadence.frequency === 'daily') return `Every day ${at}`
  if (cadence.frequency === 'weekly') return `Every ${WEEKDAY_NAMES[(cadence.weekday ?? 1) - 1]} ${at}`
  const day = cadence.day_of_month === 'last' ? 'the last day' : `day ${cadence.day_of_month}`
  return `Monthly on ${day} ${at}`
}

export const WEEKDAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const

export function describeRange(range: ScheduleRange): string {
  if (isIncrementalRange(range)) return 'new rows since the last run'
  if (typeof range === 'object') return range.last_n_days === 1 ? 'last 1 day' : `last ${range.last_n_days} days`
  return RANGE_LABELS[range]
}

export const RANGE_LABELS: Record<RelativeRange, string> = {
  previous_day: 'previous day',
  previous_week: 'previous week',
  previous_month: 'previous month',
  month_to_date: 'month to date',
  year_to_date: 'year to date',
  all_dates: 'all dates'
}

/** "Every Monday at 08:00 (Europe/London) — previous week — Transactions as CSV". */
export function describeSchedule(s: Pick<ScheduleDTO, 'cadence' | 'range' | 'request'>, datasetTitle: string, formatLabel: string): string {
  return `${describeCadence(s.cadence)} — ${describeRange(s.range)} — ${datasetTitle} as ${formatLabel}`
}
