import { describe, expect, it } from 'vitest'
import { cadenceErrors, cronPattern, dueSlot, nextRuns, slotsBetween } from '#shared/schedules/cadence'
import { CadenceSchema, CreateScheduleSchema, describeCadence, type Cadence } from '#shared/types/schedules'

const iso = (dates: Date[]) => dates.map(d => d.toISOString())
const at = (s: string) => new Date(s)

describe('next runs (clock-controlled: instants in, instants out)', () => {
  it('08:00 Europe/London stays 08:00 local across the March and October changes: none skipped, none doubled', () => {
    const daily: Cadence = { frequency: 'daily', time: '08:00', time_zone: 'Europe/London' }
    // 29 March 2026: clocks go 01:00 GMT → 02:00 BST. 08:00 BST is 07:00 UTC.
    expect(iso(nextRuns(daily, at('2026-03-27T12:00:00Z'), 3))).toEqual(['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z'])
    // 25 October 2026: back to GMT.
    expect(iso(nextRuns(daily, at('2026-10-23T12:00:00Z'), 3))).toEqual(['2026-10-24T07:00:00.000Z', '2026-10-25T08:00:00.000Z', '2026-10-26T08:00:00.000Z'])
  })

  it('America/New_York 01:30 runs once on the November day it happens twice (its first occurrence, EDT)', () => {
    const daily: Cadence = { frequency: 'daily', time: '01:30', time_zone: 'America/New_York' }
    expect(iso(nextRuns(daily, at('2026-10-31T12:00:00Z'), 3))).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z', '2026-11-03T06:30:00.000Z'])
  })

  it('America/New_York 02:30 does not exist on 8 March 2026: that day it runs at 03:00 EDT, once', () => {
    const daily: Cadence = { frequency: 'daily', time: '02:30', time_zone: 'America/New_York' }
    expect(iso(nextRuns(daily, at('2026-03-07T12:00:00Z'), 3))).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z'])
  })

  it('the last day of each month, including February and leap years', () => {
    const monthly: Cadence = { frequency: 'monthly', time: '09:00', day_of_month: 'last', time_zone: 'UTC' }
    expect(cronPattern(monthly)).toBe('0 9 L * *')
    expect(iso(nextRuns(monthly, at('2027-12-15T00:00:00Z'), 4))).toEqual([
      '2027-12-31T09:00:00.000Z', '2028-01-31T09:00:00.000Z', '2028-02-29T09:00:00.000Z', '2028-03-31T09:00:00.000Z'
    ])
  })

  it('day 28 every month; weekly on Sunday (ISO 7)', () => {
    expect(iso(nextRuns({ frequency: 'monthly', time: '00:05', day_of_month: 28, time_zone: 'UTC' }, at('2026-01-28T00:05:00Z'), 2)))
      .toEqual(['2026-02-28T00:05:00.000Z', '2026-03-28T00:05:00.000Z'])
    const sunday: Cadence = { frequency: 'weekly', time: '08:00', weekday: 7, time_zone: 'Europe/London' }
    expect(iso(nextRuns(sunday, at('2026-01-01T00:00:00Z'), 2))).toEqual(['2026-01-04T08:00:00.000Z', '2026-01-11T08:00:00.000Z'])
    expect(describeCadence({ frequency: 'weekly', time: '08:00', weekday: 1, time_zone: 'Europe/London' })).toBe('Every Monday at 08:00 (Europe/London)')
  })

  it('a cron expression in its time zone; hourly ones follow real hours across the change', () => {
    expect(iso(nextRuns({ cron: '0 9 * * 1-5', time_zone: 'Asia/Tokyo' }, at('2026-01-02T00:00:00Z'), 2))).toEqual(['2026-01-05T00:00:00.000Z', '2026-01-06T00:00:00.000Z'])
    expect(iso(nextRuns({ cron: '0 * * * *', time_zone: 'America/New_York' }, at('2026-11-01T04:30:00Z'), 3)))
      .toEqual(['2026-11-01T05:00:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T07:00:00.000Z'])
  })
})

describe('cadence checks', () => {
  const now = at('2026-06-01T00:00:00Z')
  it('refuses a cron faster than the minimum interval (default 5 minutes), accepts one at it', () => {
    expect(cadenceErrors({ cron: '*/2 * * * *', time_zone: 'UTC' }, now)).toEqual([{ field: 'cadence.cron', message: expect.stringMatching(/more often than every 5 minutes/) }])
    // Fast only at one hour of the day.
    expect(cadenceErrors({ cron: '0,3 8 * * *', time_zone: 'UTC' }, now)).toHaveLength(1)
    expect(cadenceErrors({ cron: '*/5 * * * *', time_zone: 'UTC' }, now)).toEqual([])
    expect(cadenceErrors({ cron: '*/30 * * * *', time_zone: 'UTC' }, now, 60)).toEqual([{ field: 'cadence.cron', message: expect.stringMatching(/every 60 minutes/) }])
    expect(cadenceErrors({ frequency: 'minutes', every: 10, time_zone: 'UTC' }, now, 15)).toEqual([{ field: 'cadence.every', message: expect.stringMatching(/every 15 minutes/) }])
    expect(cadenceErrors({ frequency: 'minutes', every: 15, time_zone: 'UTC' }, now, 15)).toEqual([])
  })
  it('minute cadences run on the minutes divisible by their step, in local time, through both copies of a repeated hour', () => {
    expect(cronPattern({ frequency: 'minutes', every: 15, time_zone: 'UTC' })).toBe('*/15 * * * *')
    expect(iso(nextRuns({ frequency: 'minutes', every: 15, time_zone: 'Asia/Kolkata' }, at('2026-06-01T00:01:00Z'), 2))).toEqual(['2026-06-01T00:15:00.000Z', '2026-06-01T00:30:00.000Z'])
    // New York, 1 November: 01:00-02:00 happens twice; a 30-minute cadence runs in both (real time, every 30 minutes).
    expect(iso(nextRuns({ frequency: 'minutes', every: 30, time_zone: 'America/New_York' }, at('2026-11-01T05:00:00Z'), 4)))
      .toEqual(['2026-11-01T05:30:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T06:30:00.000Z', '2026-11-01T07:00:00.000Z'])
  })
  it('slotsBetween: the slots in [start, end), or null past the maximum', () => {
    const daily = { frequency: 'daily' as const, time: '08:00', time_zone: 'UTC' }
    expect(iso(slotsBetween(daily, at('2026-06-01T08:00:00Z'), at('2026-06-03T08:00:00Z'), 10)!)).toEqual(['2026-06-01T08:00:00.000Z', '2026-06-02T08:00:00.000Z'])
    expect(slotsBetween(daily, at('2026-06-01T00:00:00Z'), at('2026-06-04T00:00:00Z'), 2)).toBeNull()
    expect(slotsBetween(daily, at('2026-06-01T00:00:00Z'), at('2026-06-04T00:00:00Z'), 3)).toHaveLength(3)
  })
  it('refuses an unparsable cron and one that never runs', () => {
    expect(cadenceErrors({ cron: '61 * * * *', time_zone: 'UTC' }, now)[0]).toMatchObject({ field: 'cadence.cron', message: expect.stringMatching(/^Invalid cron/) })
    expect(cadenceErrors({ cron: '0 0 31 2 *', time_zone: 'UTC' }, now)[0]).toMatchObject({ field: 'cadence.cron' })
  })
  it('the schema names the field: unknown time zone, missing weekday, time format, cron mixed with frequency', () => {
    const fields = (input: unknown) => CadenceSchema.safeParse(input).error?.issues.map(i => i.path.join('.'))
    expect(fields({ frequency: 'daily', time: '08:00', time_zone: 'Mars/Olympus' })).toEqual(['time_zone'])
    expect(fields({ frequency: 'weekly', time: '08:00', time_zone: 'UTC' })).toEqual(['weekday'])
    expect(fields({ frequency: 'daily', time: '8am', time_zone: 'UTC' })).toEqual(['time'])
    expect(fields({ frequency: 'monthly', time: '08:00', day_of_month: 31, time_zone: 'UTC' })).toEqual(['day_of_month'])
    expect(fields({ cron: '0 8 * * *', frequency: 'daily', time_zone: 'UTC' })).toEqual(['frequency'])
    expect(fields({ cron: '0 0 8 * * *', time_zone: 'UTC' })).toEqual(['cron'])
    expect(CadenceSchema.parse({ frequency: 'daily', time: '08:00', time_zone: 'UTC' })).toEqual({ frequency: 'daily', time: '08:00', time_zone: 'UTC' })
  })
  it('a schedule body is an export request without dates', () => {
    const base = { dataset_id: '054f17bf-1dbb-43ed-98c3-b4858093d7fc', format: 'csv', range: 'previous_week', cadence: { frequency: 'daily', time: '08:00', time_zone: 'UTC' } }
    expect(CreateScheduleSchema.parse(base)).toMatchObject({ enabled: true, range: 'previous_week' })
    expect(CreateScheduleSchema.safeParse({ ...base, start_date: '2026-01-01' }).error?.issues[0]).toMatchObject({ code: 'unrecognized_keys' })
    expect(CreateScheduleSchema.safeParse({ ...base, range: { last_n_days: 367 } }).success).toBe(false)
    expect(CreateScheduleSchema.parse({ ...base, range: { last_n_days: 366 } }).range).toEqual({ last_n_days: 366 })
    // Parts, as on an export (issue 27).
    expect(CreateScheduleSchema.parse({ ...base, max_part_mb: 256, max_part_rows: 10_000 })).toMatchObject({ max_part_mb: 256, max_part_rows: 10_000 })
    expect(CreateScheduleSchema.safeParse({ ...base, max_part_mb: 4 }).error?.issues[0]?.path).toEqual(['max_part_mb'])
  })
})

describe('catch-up after downtime', () => {
  const daily: Cadence = { frequency: 'daily', time: '08:00', time_zone: 'Europe/London' }
  it('runs once, for the latest missed slot, and says how many earlier slots it skipped', () => {
    const slot = dueSlot(daily, at('2026-06-01T07:00:00Z'), at('2026-06-04T12:00:00Z'))
    expect(slot).toEqual({ slot: at('2026-06-04T07:00:00Z'), missed: 3, next: at('2026-06-05T07:00:00Z') })
  })
  it('on time: the slot itself, nothing missed; not yet due: null', () => {
    expect(dueSlot(daily, at('2026-06-01T07:00:00Z'), at('2026-06-01T07:00:30Z'))).toEqual({ slot: at('2026-06-01T07:00:00Z'), missed: 0, next: at('2026-06-02T07:00:00Z') })
    expect(dueSlot(daily, at('2026-06-01T07:00:00Z'), at('2026-06-01T06:59:59Z'))).toBeNull()
  })
})
