import type { Cadence, Frequency, RelativeRange, ScheduleChannels, ScheduleDTO, ScheduleRange, ScheduleRequest, MINUTE_STEPS } from '#shared/types/schedules'
import type { DatasetDTO } from '#shared/types/datasets'
import type { CreateExportInput } from '#shared/types/exports'
// Relative, not ~/: the unit tests load this file without Nuxt's aliases.
import { conditionDraft, type ExportRequestState } from '../composables/useExportRequest'
import { isCronCadence, isIncrementalRange, isMinutesCadence } from '#shared/types/schedules'
import { CHANNEL_KEYS, type ChannelKey } from '#shared/types/notifications'

const allChannels = (on: (key: ChannelKey) => boolean) => Object.fromEntries(CHANNEL_KEYS.map(key => [key, on(key)])) as Record<ChannelKey, boolean>

/** The schedule form's fields: flat and always present, whatever the cadence and range kind. */
export interface ScheduleDraft {
  name: string
  range: RelativeRange | 'last_n_days' | 'since_last_run'
  lastNDays: number
  /** For "since_last_run": the first run's rows are dated from this day ('' = every row). */
  initialStartDate: string
  frequency: Frequency | 'cron'
  /** For a `minutes` cadence. */
  every: typeof MINUTE_STEPS[number]
  time: string
  weekday: number
  dayOfMonth: string
  cron: string
  timeZone: string
  /** 'settings': the user's notification settings decide; 'custom': the channels below. */
  notify: 'settings' | 'custom'
  channels: Record<ChannelKey, boolean>
  /** The destinations each run is delivered to (none: download only). */
  destinationIds: string[]
}

/** The browser's time zone: where the user most likely wants "08:00" to mean 08:00. */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
}

export function newDraft(): ScheduleDraft {
  return { name: '', range: 'previous_week', lastNDays: 30, initialStartDate: '', frequency: 'weekly', every: 15, time: '08:00', weekday: 1, dayOfMonth: '1', cron: '0 8 * * 1', timeZone: browserTimeZone(),
    notify: 'settings', channels: allChannels(() => true), destinationIds: [] }
}

export function toDraft(s: Pick<ScheduleDTO, 'name' | 'range' | 'cadence'> & Partial<Pick<ScheduleDTO, 'channels' | 'request'>>): ScheduleDraft {
  const draft = { ...newDraft(), name: s.name ?? '', timeZone: s.cadence.time_zone, destinationIds: [...s.request?.destination_ids ?? []] }
  if (s.channels) {
    // A channel the API's choice leaves out follows the settings; the form can only show on or off.
    draft.notify = 'custom'
    const chosen = s.channels
    draft.channels = allChannels(key => chosen[key] ?? true)
  }
  if (isIncrementalRange(s.range)) Object.assign(draft, { range: 'since_last_run', initialStartDate: s.range.initial === 'all' ? '' : s.range.initial.start_date })
  else if (typeof s.range === 'object') Object.assign(draft, { range: 'last_n_days', lastNDays: s.range.last_n_days })
  else draft.range = s.range
  if (isCronCadence(s.cadence)) return { ...draft, frequency: 'cron', cron: s.cadence.cron }
  if (isMinutesCadence(s.cadence)) return { ...draft, frequency: 'minutes', every: s.cadence.every }
  return {
    ...draft,
    frequency: s.cadence.frequency,
    time: s.cadence.time,
    weekday: s.cadence.weekday ?? 1,
    dayOfMonth: String(s.cadence.day_of_month ?? '1')
  }
}

/** What the schedule form sets, as the API names it. */
export interface ScheduleSettings { name: string | null, range: ScheduleRange, cadence: Cadence, channels: ScheduleChannels | null, destination_ids: string[] }

/** The API's range, cadence, name and notification channels from the form. */
export function fromDraft(d: ScheduleDraft): ScheduleSettings {
  const range: ScheduleRange = d.range === 'last_n_days'
    ? { last_n_days: Number(d.lastNDays) }
    : d.range === 'since_last_run'
      ? { type: 'since_last_run', initial: d.initialStartDate ? { start_date: d.initialStartDate } : 'all' }
      : d.range
  const time_zone = d.timeZone
  let cadence: Cadence
  if (d.frequency === 'cron') cadence = { cron: d.cron, time_zone }
  else if (d.frequency === 'minutes') cadence = { frequency: 'minutes', every: d.every, time_zone }
  else if (d.frequency === 'weekly') cadence = { frequency: 'weekly', time: d.time, weekday: Number(d.weekday), time_zone }
  else if (d.frequency === 'monthly') cadence = { frequency: 'monthly', time: d.time, day_of_month: d.dayOfMonth === 'last' ? 'last' : Number(d.dayOfMonth), time_zone }
  else cadence = { frequency: 'daily', time: d.time, time_zone }
  const channels = d.notify === 'custom' ? { ...d.channels } : null
  return { name: d.name.trim() || null, range, cadence, channels, destination_ids: [...d.destinationIds] }
}

/** The API's field errors for the form: `cadence.time` → the form's `time`, and so on. */
export function draftField(apiField: string): string {
  const map: Record<string, string> = {
    'range': 'range', 'range.last_n_days': 'lastNDays', 'range.initial': 'initialStartDate', 'range.initial.start_date': 'initialStartDate',
    'cadence': 'frequency', 'cadence.cron': 'cron', 'cadence.time': 'time', 'cadence.every': 'every',
    'cadence.weekday': 'weekday', 'cadence.day_of_month': 'dayOfMonth', 'cadence.time_zone': 'timeZone', 'name': 'name',
    'channels': 'notify', 'channels.telegram': 'notify', 'channels.email': 'notify', 'channels.webhooks': 'notify'
  }
  if (apiField === 'destination_ids' || apiField.startsWith('destination_ids.')) return 'destinationIds'
  return map[apiField] ?? ''
}

/** "exported up to 6 Dec 14:05": an incremental schedule's watermark in words, in the reader's time zone. */
export function describeWatermark(iso: string, timeZone?: string): string {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone, day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .formatToParts(new Date(iso)).map(p => [p.type, p.value]))
  return `exported up to ${parts.day} ${parts.month} ${parts.hour}:${parts.minute}`
}

/** The instant local midnight of `date` (YYYY-MM-DD) is in the zone: a backfill window's day boundary. */
export function zonedMidnight(date: string, timeZone: string): Date {
  const utc = Date.parse(`${date}T00:00:00Z`)
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    .formatToParts(new Date(utc)).map(part => [part.type, Number(part.value)]))
  const offset = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - utc
  return new Date(utc - offset)
}

/** The saved request's fields the schedule form edits (the rest it leaves as saved). */
export const EDITED_REQUEST_FIELDS = ['format', 'account_ids', 'tag_ids', 'compression', 'parquet_compression', 'columns', 'limit', 'csv', 'row_filters', 'max_part_mb', 'max_part_rows'] as const

/**
 * The saved request's data fields as the export form edits them; its file choices go through the
 * form's own `applyFileOptions`, as the dialog's remembered ones do.
 */
export function requestState(request: ScheduleRequest, dataset: DatasetDTO): Pick<ExportRequestState, 'account_ids' | 'tag_ids' | 'columns' | 'conditions'> {
  return {
    account_ids: [...request.account_ids ?? []],
    tag_ids: [...request.tag_ids ?? []],
    columns: [...request.columns ?? dataset.columns.map(c => c.name)],
    conditions: (request.row_filters ?? []).map(conditionDraft)
  }
}

/**
 * The request's fields to save, without dates; a field the saved request had and the form now
 * leaves at its default is sent as null (a PATCH replaces fields one by one: leaving it out
 * would keep the saved value).
 */
export function requestBody(request: CreateExportInput, saved?: ScheduleRequest): Record<string, unknown> {
  const { start_date: _start, end_date: _end, ...rest } = request
  const cleared = EDITED_REQUEST_FIELDS.filter(key => saved?.[key] != null && rest[key] === undefined)
  return { ...Object.fromEntries(cleared.map(key => [key, null])), ...rest }
}
