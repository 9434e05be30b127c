import type { RelativeRange } from '#shared/types/schedules'
import { MAX_LAST_N_DAYS } from '#shared/types/schedules'

/**
 * The export dialog's date presets. Each resolves in the browser's time zone exactly as the
 * schedule range it becomes resolves at a run (server/lib/schedules/range.ts), so "Last 7 days"
 * exported now and scheduled later cover the same kind of span.
 */
export const DATE_PRESETS = ['last_7_days', 'last_month', 'month_to_date', 'year_to_date', 'all', 'custom'] as const
export type DatePreset = typeof DATE_PRESETS[number]

export const DATE_PRESET_LABELS: Record<DatePreset, string> = {
  last_7_days: 'Last 7 days',
  last_month: 'Last month',
  month_to_date: 'Month to date',
  year_to_date: 'Year to date',
  all: 'All dates',
  custom: 'Custom'
}

export interface DateBounds { start_date?: string, end_date?: string }

/** Today as YYYY-MM-DD in the browser's time zone. */
export function localToday(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`
}

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + days)
  return d.toISOString().slice(0, 10)
}

/** The dates a preset stands for today (custom has none of its own). */
export function presetDates(preset: Exclude<DatePreset, 'custom'>, now = new Date()): DateBounds {
  const today = localToday(now)
  const first = `${today.slice(0, 8)}01`
  switch (preset) {
    case 'last_7_days': return { start_date: addDays(today, -7), end_date: addDays(today, -1) }
    case 'last_month': return { start_date: `${addDays(first, -1).slice(0, 8)}01`, end_date: addDays(first, -1) }
    case 'month_to_date': return { start_date: first, end_date: today }
    case 'year_to_date': return { start_date: `${today.slice(0, 4)}-01-01`, end_date: today }
    case 'all': return {}
  }
}

/** The preset these dates are today, else custom (a job's dates, read back into the dialog). */
export function matchPreset(bounds: DateBounds, now = new Date()): DatePreset {
  return DATE_PRESETS.find((preset) => {
    if (preset === 'custom') return false
    const dates = presetDates(preset, now)
    return (dates.start_date ?? null) === (bounds.start_date ?? null) && (dates.end_date ?? null) === (bounds.end_date ?? null)
  }) ?? 'custom'
}

function formatDay(date: string, withYear: boolean): string {
  return new Date(`${date}T00:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC', ...(withYear && { year: 'numeric' }) })
}

/** "1 Nov – 30 Nov 2026", "from 1 Nov 2026", "up to 30 Nov 2026" or "all dates". */
export function describeDates({ start_date: start, end_date: end }: DateBounds): string {
  if (start && end) {
    if (start === end) return formatDay(start, true)
    return `${formatDay(start, start.slice(0, 4) !== end.slice(0, 4))} – ${formatDay(end, true)}`
  }
  if (start) return `from ${formatDay(start, true)}`
  if (end) return `up to ${formatDay(end, true)}`
  return 'all dates'
}

/** The dates in one phrase for a summary line: "last month", or the dates themselves. */
export function datesPhrase(bounds: DateBounds, now = new Date()): string {
  const preset = matchPreset(bounds, now)
  return preset === 'custom' ? describeDates(bounds) : DATE_PRESET_LABELS[preset].toLowerCase()
}

/**
 * The schedule range a preset becomes: the same span, relative to each run. Custom dates have no
 * relative twin: they become the last N days, N the span's length (a week's dates, a weekly "last 7 days").
 */
export function presetScheduleRange(preset: DatePreset, bounds: DateBounds): { range: RelativeRange | 'last_n_days', lastNDays?: number } {
  switch (preset) {
    case 'last_7_days': return { range: 'last_n_days', lastNDays: 7 }
    case 'last_month': return { range: 'previous_month' }
    case 'month_to_date': return { range: 'month_to_date' }
    case 'year_to_date': return { range: 'year_to_date' }
    case 'all': return { range: 'all_dates' }
    case 'custom': {
      if (!bounds.start_date) return { range: 'all_dates' }
      const end = bounds.end_date ?? localToday()
      const days = Math.round((Date.parse(`${end}T00:00:00Z`) - Date.parse(`${bounds.start_date}T00:00:00Z`)) / 86_400_000) + 1
      return { range: 'last_n_days', lastNDays: Math.min(MAX_LAST_N_DAYS, Math.max(1, days)) }
    }
  }
}
