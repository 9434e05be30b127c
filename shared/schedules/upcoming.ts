import { isIncrementalRange, type Cadence, type ScheduleRange } from '#shared/types/schedules'
import { nextRuns } from './cadence'
import { resolveRange } from './range'

/**
 * A schedule's next runs and the dates each covers, as the scheduler will run them: the same
 * cadence (cadence.ts) and range (range.ts) functions the server calls, here for the form's
 * preview ("Mon 8 Dec 08:00 — 1–7 Dec").
 */
export interface UpcomingRun { at: Date, start_date: string | null, end_date: string | null }

export function upcomingRuns(cadence: Cadence, range: ScheduleRange, after: Date, count = 3): UpcomingRun[] {
  return nextRuns(cadence, after, count).map(at => ({ at, ...resolveRange(range, at, cadence.time_zone) }))
}

function zoned(at: Date, timeZone: string, options: Intl.DateTimeFormatOptions): Record<string, string> {
  return Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone, ...options }).formatToParts(at).map(p => [p.type, p.value]))
}

/** "Mon 8 Dec 08:00": the run's local time in the schedule's zone. */
export function describeRunTime(at: Date, timeZone: string): string {
  const p = zoned(at, timeZone, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
  return `${p.weekday} ${p.day} ${p.month} ${p.hour}:${p.minute}`
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** "1–7 Dec", "24 Nov – 7 Dec", "29 Dec 2026 – 4 Jan 2027", "7 Dec": calendar dates (YYYY-MM-DD), inclusive. */
export function describeDates(start: string, end: string): string {
  const [y1, m1, d1] = start.split('-').map(Number) as [number, number, number]
  const [y2, m2, d2] = end.split('-').map(Number) as [number, number, number]
  const month = (m: number) => MONTHS[m - 1]
  if (start === end) return `${d1} ${month(m1)}`
  if (y1 !== y2) return `${d1} ${month(m1)} ${y1} – ${d2} ${month(m2)} ${y2}`
  if (m1 !== m2) return `${d1} ${month(m1)} – ${d2} ${month(m2)}`
  return `${d1}–${d2} ${month(m1)}`
}

/** "Mon 8 Dec 08:00 — 1–7 Dec": when a run starts and what it exports. */
export function describeUpcomingRun(run: UpcomingRun, range: ScheduleRange, timeZone: string): string {
  const covers = isIncrementalRange(range)
    ? 'rows loaded since the previous run'
    : run.start_date && run.end_date ? describeDates(run.start_date, run.end_date) : 'all dates'
  return `${describeRunTime(run.at, timeZone)} — ${covers}`
}
