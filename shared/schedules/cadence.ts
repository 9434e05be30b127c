import { Cron } from 'croner'
import type { FieldError } from '#shared/types/api'
import { isCronCadence, isMinutesCadence, type Cadence } from '#shared/types/schedules'

/**
 * When a schedule runs: pure functions over a cadence and instants, no clock of their own. Every
 * form of cadence goes through croner in the schedule's time zone: a simple cadence is translated
 * to the cron pattern it means, so one implementation decides every run time.
 *
 * Daylight saving time (croner's fixed-time rule, which applies to every simple cadence and to cron
 * patterns whose minute and hour are single values):
 * - a local time that does not exist that day (02:30 in New York on the March change) runs at the
 *   first valid time after the gap (03:00 local), once;
 * - a local time that happens twice (01:30 in New York on the November change) runs once, at its
 *   first occurrence (01:30 EDT);
 * - times outside the changed hour (08:00 in London) are unaffected: same local time every day.
 * A cron pattern with a wildcard or step in its hour (e.g. `0 * * * *`) is an interval job: it
 * follows real hours, skipping the missing hour and running in both copies of the repeated one.
 */

/** The default shortest gap between runs (SCHEDULES_MIN_INTERVAL_MINUTES). */
export const DEFAULT_MIN_INTERVAL_MINUTES = 5
/**
 * How far ahead the interval check looks: a day of 5-minute runs, so a pattern fast only at some
 * hour of the day (`*\/2 9 * * *`) is caught, as are hourly and daily ones.
 */
const INTERVAL_CHECK_RUNS = 24 * 12 + 1

/** The 5-field cron pattern a cadence means (minute hour day-of-month month day-of-week, local time). */
export function cronPattern(cadence: Cadence): string {
  if (isCronCadence(cadence)) return cadence.cron.trim().split(/\s+/).join(' ')
  // Minutes of the hour divisible by the step, every hour: an interval job in croner's terms.
  if (isMinutesCadence(cadence)) return `*/${cadence.every} * * * *`
  const [hour, minute] = cadence.time.split(':').map(Number)
  const at = `${minute} ${hour}`
  switch (cadence.frequency) {
    case 'daily': return `${at} * * *`
    // ISO weekday 1-7 (Monday-Sunday); in cron 7 is also Sunday.
    case 'weekly': return `${at} * * ${cadence.weekday}`
    // 'L' is the last day of each month (28, 29, 30 or 31).
    case 'monthly': return `${at} ${cadence.day_of_month === 'last' ? 'L' : cadence.day_of_month} * *`
  }
}

function cron(cadence: Cadence): Cron {
  // paused: we only ask it for dates; nothing is ever scheduled in this process by croner.
  return new Cron(cronPattern(cadence), { timezone: cadence.time_zone, paused: true, mode: '5-part' })
}

/** The first run strictly after `after`, or null when the pattern never matches again. */
export function nextRunAfter(cadence: Cadence, after: Date): Date | null {
  return cron(cadence).nextRun(after)
}

/** The first `count` runs strictly after `after`. */
export function nextRuns(cadence: Cadence, after: Date, count: number): Date[] {
  return cron(cadence).nextRuns(count, after)
}

/**
 * What is due at `now` for a schedule whose next run was `due`: the latest slot that has come
 * (`due` itself unless the server was down past later slots), how many earlier slots that skips,
 * and the next slot after now. After downtime only the latest missed slot runs: a week offline
 * must not flood the queue with seven daily exports of nearly the same data.
 */
export function dueSlot(cadence: Cadence, due: Date, now: Date): { slot: Date, missed: number, next: Date | null } | null {
  if (due.getTime() > now.getTime()) return null
  const c = cron(cadence)
  let slot = due
  let missed = 0
  // At most every 5 minutes: a month of downtime is under 9,000 steps.
  for (let next = c.nextRun(slot); next && next.getTime() <= now.getTime(); next = c.nextRun(slot)) {
    slot = next
    missed++
  }
  return { slot, missed, next: c.nextRun(now) }
}

/**
 * The cadence's slots in [start, end), in order, or null when there are more than `max` (so a
 * caller can refuse a window without enumerating all of it).
 */
export function slotsBetween(cadence: Cadence, start: Date, end: Date, max: number): Date[] | null {
  const c = cron(cadence)
  const slots: Date[] = []
  // nextRun is strictly after its argument: a slot exactly at `start` counts.
  for (let next = c.nextRun(new Date(start.getTime() - 1)); next && next.getTime() < end.getTime(); next = c.nextRun(next)) {
    if (slots.length === max) return null
    slots.push(next)
  }
  return slots
}

/**
 * What the schema cannot check: that a cron expression parses, matches at all, and leaves at least
 * `minIntervalMinutes` between runs (the shortest gap between its next runs).
 */
export function cadenceErrors(cadence: Cadence, from: Date, minIntervalMinutes = DEFAULT_MIN_INTERVAL_MINUTES): FieldError[] {
  const field = isCronCadence(cadence) ? 'cadence.cron' : isMinutesCadence(cadence) ? 'cadence.every' : 'cadence'
  let runs: Date[]
  try {
    runs = nextRuns(cadence, from, INTERVAL_CHECK_RUNS)
  } catch (error) {
    return [{ field, message: `Invalid cron expression: ${(error as Error).message.replace(/^CronPattern: /, '')}` }]
  }
  if (!runs.length) return [{ field, message: 'Never runs' }]
  for (let i = 1; i < runs.length; i++) {
    if (runs[i]!.getTime() - runs[i - 1]!.getTime() < minIntervalMinutes * 60_000) {
      return [{ field, message: `Runs more often than every ${minIntervalMinutes} minutes; schedules run at most every ${minIntervalMinutes} minutes` }]
    }
  }
  return []
}
