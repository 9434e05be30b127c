import { describe, expect, it } from 'vitest'
import { dueSlot, nextRunAfter } from '#shared/schedules/cadence'
import { resolveRange } from '#shared/schedules/range'
import { describeCron } from '#shared/schedules/cron-words'
import { describeDates, describeUpcomingRun, upcomingRuns } from '#shared/schedules/upcoming'
import { describeCadence, type Cadence, type ScheduleRange } from '#shared/types/schedules'

const at = (s: string) => new Date(s)

/**
 * The runs as the server makes them: next_run_at from nextRunAfter when the schedule is saved
 * (store.ts), then each due slot and the one after it from dueSlot, and each run's dates from
 * resolveRange at its slot (scheduler.ts).
 */
function serverRuns(cadence: Cadence, range: ScheduleRange, now: Date, count: number) {
  const runs = []
  let next = nextRunAfter(cadence, now)
  while (next && runs.length < count) {
    const due = dueSlot(cadence, next, next)!
    runs.push({ at: due.slot, ...resolveRange(range, due.slot, cadence.time_zone) })
    next = due.next
  }
  return runs
}

const cases: Array<{ name: string, cadence: Cadence, range: ScheduleRange, now: string, expected: string[] }> = [
  {
    name: 'weekly on Monday in London, previous week',
    cadence: { frequency: 'weekly', time: '08:00', weekday: 1, time_zone: 'Europe/London' },
    range: 'previous_week',
    now: '2026-12-03T12:00:00Z',
    expected: ['Mon 7 Dec 08:00 — 30 Nov – 6 Dec', 'Mon 14 Dec 08:00 — 7–13 Dec', 'Mon 21 Dec 08:00 — 14–20 Dec']
  },
  {
    name: 'daily across the autumn DST change in New York, previous day',
    cadence: { frequency: 'daily', time: '01:30', time_zone: 'America/New_York' },
    range: 'previous_day',
    now: '2026-10-31T12:00:00Z',
    expected: ['Sun 1 Nov 01:30 — 31 Oct', 'Mon 2 Nov 01:30 — 1 Nov', 'Tue 3 Nov 01:30 — 2 Nov']
  },
  {
    name: 'daily at a time the spring DST change skips in New York',
    cadence: { frequency: 'daily', time: '02:30', time_zone: 'America/New_York' },
    range: { last_n_days: 7 },
    now: '2026-03-07T12:00:00Z',
    expected: ['Sun 8 Mar 03:00 — 1–7 Mar', 'Mon 9 Mar 02:30 — 2–8 Mar', 'Tue 10 Mar 02:30 — 3–9 Mar']
  },
  {
    name: 'monthly on the last day in Tokyo, previous month over a year end',
    cadence: { frequency: 'monthly', time: '09:00', day_of_month: 'last', time_zone: 'Asia/Tokyo' },
    range: 'previous_month',
    now: '2026-12-15T00:00:00Z',
    expected: ['Thu 31 Dec 09:00 — 1–30 Nov', 'Sun 31 Jan 09:00 — 1–31 Dec', 'Sun 28 Feb 09:00 — 1–31 Jan']
  },
  {
    name: 'cron on weekdays in Kolkata, month to date',
    cadence: { cron: '0 9 * * 1-5', time_zone: 'Asia/Kolkata' },
    range: 'month_to_date',
    now: '2027-01-01T12:00:00Z',
    expected: ['Mon 4 Jan 09:00 — 1–4 Jan', 'Tue 5 Jan 09:00 — 1–5 Jan', 'Wed 6 Jan 09:00 — 1–6 Jan']
  },
  {
    name: 'every 30 minutes over the London spring change, all dates',
    cadence: { frequency: 'minutes', every: 30, time_zone: 'Europe/London' },
    range: 'all_dates',
    now: '2026-03-29T00:40:00Z',
    expected: ['Sun 29 Mar 02:00 — all dates', 'Sun 29 Mar 02:30 — all dates', 'Sun 29 Mar 03:00 — all dates']
  }
]

describe('the next runs the schedule form shows', () => {
  for (const c of cases) {
    it(`are the server's runs: ${c.name}`, () => {
      const runs = upcomingRuns(c.cadence, c.range, at(c.now), 3)
      expect(runs).toEqual(serverRuns(c.cadence, c.range, at(c.now), 3))
      expect(runs.map(run => describeUpcomingRun(run, c.range, c.cadence.time_zone))).toEqual(c.expected)
    })
  }

  it('an incremental range covers what was loaded since the previous run', () => {
    const range: ScheduleRange = { type: 'since_last_run', initial: 'all' }
    const [run] = upcomingRuns({ frequency: 'daily', time: '06:00', time_zone: 'UTC' }, range, at('2026-12-07T07:00:00Z'), 1)
    expect(describeUpcomingRun(run!, range, 'UTC')).toBe('Tue 8 Dec 06:00 — rows loaded since the previous run')
  })

  it('dates read short: one day, one month, across months and years', () => {
    expect(describeDates('2026-12-07', '2026-12-07')).toBe('7 Dec')
    expect(describeDates('2026-12-01', '2026-12-07')).toBe('1–7 Dec')
    expect(describeDates('2026-11-24', '2026-12-07')).toBe('24 Nov – 7 Dec')
    expect(describeDates('2026-12-29', '2027-01-04')).toBe('29 Dec 2026 – 4 Jan 2027')
  })
})

describe('cron expressions in words', () => {
  it.each([
    ['0 8 * * 1', 'At 08:00 on Monday'],
    ['0 8 * * MON', 'At 08:00 on Monday'],
    ['0 9 * * 1-5', 'At 09:00 on Monday to Friday'],
    ['30 8,17 * * *', 'At 08:30 and 17:30 every day'],
    ['0 8 1 * *', 'At 08:00 on day 1 of the month'],
    ['0 8 1,15 * *', 'At 08:00 on days 1 and 15 of the month'],
    ['0 8 L * *', 'At 08:00 on the last day of the month'],
    ['0 6 1 1,7 *', 'At 06:00 on day 1 of the month in January and July'],
    ['0 8 1 * 1', 'At 08:00 on day 1 of the month or on Monday'],
    ['*/15 * * * *', 'Every 15 minutes'],
    ['*/10 9-17 * * 1-5', 'Every 10 minutes from 09:00 to 17:59 on Monday to Friday'],
    ['0 * * * *', 'At minute 0 of every hour'],
    ['5 */2 * * *', 'At minute 5 of every 2nd hour'],
    ['0 0 * * 0,6', 'At 00:00 on Sunday and Saturday']
  ])('%s → %s', (cron, words) => {
    expect(describeCron(cron)).toBe(words)
  })

  it('leaves what it cannot say plainly to the expression itself', () => {
    expect(describeCron('0 8 * * 1#2')).toBeNull()
    expect(describeCron('0 8 * *')).toBeNull()
    expect(describeCadence({ cron: '0 8 * * 1#2', time_zone: 'UTC' })).toBe('Cron “0 8 * * 1#2” (UTC)')
    expect(describeCadence({ cron: '0 8 * * 1', time_zone: 'Europe/London' })).toBe('At 08:00 on Monday (Europe/London)')
  })
})
