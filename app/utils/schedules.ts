import type { Cadence, Frequency, RelativeRange, ScheduleChannels, ScheduleDTO, ScheduleRange } from '#shared/types/schedules'
import { isCronCadence } from '#shared/types/schedules'
import { CHANNEL_KEYS, type ChannelKey } from '#shared/types/notifications'

const allChannels = (on: (key: ChannelKey) => boolean) => Object.fromEntries(CHANNEL_KEYS.map(key => [key, on(key)])) as Record<ChannelKey, boolean>

/** The schedule form's fields: flat and always present, whatever the cadence and range kind. */
export interface ScheduleDraft {
  name: string
  range: RelativeRange | 'last_n_days'
  lastNDays: number
  frequency: Frequency | 'cron'
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
  return { name: '', range: 'previous_week', lastNDays: 30, frequency: 'weekly', time: '08:00', weekday: 1, dayOfMonth: '1', cron: '0 8 * * 1', timeZone: browserTimeZone(),
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
  if (typeof s.range === 'object') Object.assign(draft, { range: 'last_n_days', lastNDays: s.range.last_n_days })
  else draft.range = s.range
  if (isCronCadence(s.cadence)) return { ...draft, frequency: 'cron', cron: s.cadence.cron }
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
  const range: ScheduleRange = d.range === 'last_n_days' ? { last_n_days: Number(d.lastNDays) } : d.range
  const time_zone = d.timeZone
  let cadence: Cadence
  if (d.frequency === 'cron') cadence = { cron: d.cron, time_zone }
  else if (d.frequency === 'weekly') cadence = { frequency: 'weekly', time: d.time, weekday: Number(d.weekday), time_zone }
  else if (d.frequency === 'monthly') cadence = { frequency: 'monthly', time: d.time, day_of_month: d.dayOfMonth === 'last' ? 'last' : Number(d.dayOfMonth), time_zone }
  else cadence = { frequency: 'daily', time: d.time, time_zone }
  const channels = d.notify === 'custom' ? { ...d.channels } : null
  return { name: d.name.trim() || null, range, cadence, channels, destination_ids: [...d.destinationIds] }
}

/** The API's field errors for the form: `cadence.time` → the form's `time`, and so on. */
export function draftField(apiField: string): string {
  const map: Record<string, string> = {
    'range': 'range', 'range.last_n_days': 'lastNDays', 'cadence': 'frequency', 'cadence.cron': 'cron', 'cadence.time': 'time',
    'cadence.weekday': 'weekday', 'cadence.day_of_month': 'dayOfMonth', 'cadence.time_zone': 'timeZone', 'name': 'name',
    'channels': 'notify', 'channels.telegram': 'notify', 'channels.email': 'notify', 'channels.webhooks': 'notify'
  }
  if (apiField === 'destination_ids' || apiField.startsWith('destination_ids.')) return 'destinationIds'
  return map[apiField] ?? ''
}
