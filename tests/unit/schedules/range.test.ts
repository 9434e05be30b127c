import { describe, expect, it } from 'vitest'
import { localDate, resolveRange } from '#shared/schedules/range'

const at = (s: string) => new Date(s)

describe('relative ranges, resolved in the schedule\'s time zone', () => {
  // Monday 2 March 2026, 08:00 in London.
  const monday = at('2026-03-02T08:00:00Z')
  it('previous_week is Monday-Sunday before the run\'s local date', () => {
    expect(resolveRange('previous_week', monday, 'Europe/London')).toEqual({ start_date: '2026-02-23', end_date: '2026-03-01' })
    // A Sunday run: the week before the current one.
    expect(resolveRange('previous_week', at('2026-03-08T12:00:00Z'), 'Europe/London')).toEqual({ start_date: '2026-02-23', end_date: '2026-03-01' })
  })
  it('previous_day, previous_month (February of a leap year), month_to_date, year_to_date, last_n_days, all_dates', () => {
    expect(resolveRange('previous_day', monday, 'Europe/London')).toEqual({ start_date: '2026-03-01', end_date: '2026-03-01' })
    expect(resolveRange('previous_month', at('2028-03-01T09:00:00Z'), 'UTC')).toEqual({ start_date: '2028-02-01', end_date: '2028-02-29' })
    expect(resolveRange('previous_month', at('2026-01-15T09:00:00Z'), 'UTC')).toEqual({ start_date: '2025-12-01', end_date: '2025-12-31' })
    expect(resolveRange('month_to_date', monday, 'UTC')).toEqual({ start_date: '2026-03-01', end_date: '2026-03-02' })
    expect(resolveRange('year_to_date', monday, 'UTC')).toEqual({ start_date: '2026-01-01', end_date: '2026-03-02' })
    expect(resolveRange({ last_n_days: 7 }, monday, 'UTC')).toEqual({ start_date: '2026-02-23', end_date: '2026-03-01' })
    expect(resolveRange('all_dates', monday, 'UTC')).toEqual({ start_date: null, end_date: null })
  })
  it('the local date, not UTC\'s: 00:30 on the 1st in Tokyo is still the 31st in UTC', () => {
    const instant = at('2026-01-31T15:30:00Z')
    expect(localDate(instant, 'Asia/Tokyo')).toBe('2026-02-01')
    expect(resolveRange('previous_month', instant, 'Asia/Tokyo')).toEqual({ start_date: '2026-01-01', end_date: '2026-01-31' })
    expect(resolveRange('previous_month', instant, 'UTC')).toEqual({ start_date: '2025-12-01', end_date: '2025-12-31' })
  })
})
