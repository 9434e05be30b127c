import { isIncrementalRange, type ScheduleRange } from '#shared/types/schedules'

/**
 * A schedule's relative range as the concrete dates of one run: pure, with the run's instant and
 * the schedule's time zone as inputs. Dates are calendar dates in that zone (the warehouse's dates
 * carry no time zone), both ends inclusive; `all_dates` is no bound at all.
 */
export function resolveRange(range: ScheduleRange, at: Date, timeZone: string): { start_date: string | null, end_date: string | null } {
  const today = localDate(at, timeZone)
  // Selected by load time when the run starts (server/lib/exports/jobs/incremental.ts), not by date.
  if (isIncrementalRange(range)) return { start_date: null, end_date: null }
  if (typeof range === 'object') return { start_date: addDays(today, -range.last_n_days), end_date: addDays(today, -1) }
  switch (range) {
    case 'all_dates': return { start_date: null, end_date: null }
    case 'previous_day': {
      const day = addDays(today, -1)
      return { start_date: day, end_date: day }
    }
    case 'previous_week': {
      // Monday-Sunday of the week before the run's local date's week.
      const monday = addDays(today, -(isoWeekday(today) - 1) - 7)
      return { start_date: monday, end_date: addDays(monday, 6) }
    }
    case 'previous_month': {
      const first = `${today.slice(0, 8)}01`
      return { start_date: `${addDays(first, -1).slice(0, 8)}01`, end_date: addDays(first, -1) }
    }
    // "To date": up to and including today, whose rows may still be arriving.
    case 'month_to_date': return { start_date: `${today.slice(0, 8)}01`, end_date: today }
    case 'year_to_date': return { start_date: `${today.slice(0, 4)}-01-01`, end_date: today }
  }
}

/** The longest span (days) a range can resolve to; null for no bound. */
export function maxRangeDays(range: ScheduleRange): number | null {
  if (isIncrementalRange(range)) return null
  if (typeof range === 'object') return range.last_n_days
  return { previous_day: 1, previous_week: 7, previous_month: 31, month_to_date: 31, year_to_date: 366, all_dates: null }[range]
}

/** The calendar date (YYYY-MM-DD) at this instant in the zone. */
export function localDate(at: Date, timeZone: string): string {
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at)
}

/** The calendar date `days` after (or before) `date`, both YYYY-MM-DD. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + days)
  return d.toISOString().slice(0, 10)
}

/** 1 = Monday … 7 = Sunday. */
function isoWeekday(date: string): number {
  return new Date(`${date}T00:00:00Z`).getUTCDay() || 7
}
