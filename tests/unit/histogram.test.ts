import { describe, expect, it } from 'vitest'
import { bucketOf, histogram, MAX_BARS } from '#server/lib/exports/histogram'

describe('the preview\'s histogram', () => {
  it('buckets start on the day, the Monday, the first of the month, quarter or year', () => {
    expect(bucketOf('2026-12-06', 'day')).toBe('2026-12-06')
    // 2026-12-06 is a Sunday: its week began on Monday 2026-11-30.
    expect(bucketOf('2026-12-06', 'week')).toBe('2026-11-30')
    expect(bucketOf('2026-11-30', 'week')).toBe('2026-11-30')
    expect(bucketOf('2026-12-06', 'month')).toBe('2026-12-01')
    expect(bucketOf('2026-08-31', 'quarter')).toBe('2026-07-01')
    expect(bucketOf('2026-08-31', 'year')).toBe('2026-01-01')
  })

  it('picks the finest grain with at most 60 bars, and no finer than asked', () => {
    expect(histogram([], { start: '2026-01-01', end: '2026-03-01' }).grain).toBe('day')
    expect(histogram([], { start: '2026-01-01', end: '2026-03-02' }).grain).toBe('week')
    expect(histogram([], { start: '2024-01-01', end: '2026-12-31' }).grain).toBe('month')
    expect(histogram([], { start: '2016-01-01', end: '2026-12-31' }).grain).toBe('quarter')
    expect(histogram([], { start: '1990-01-01', end: '2026-12-31' }).grain).toBe('year')
    expect(histogram([], { start: '2026-01-01', end: '2026-01-31' }, 'month').grain).toBe('month')
    for (const end of ['2026-02-28', '2027-06-30', '2031-12-31']) {
      expect(histogram([], { start: '2026-01-01', end }).buckets.length).toBeLessThanOrEqual(MAX_BARS)
    }
  })

  it('fills every bucket of the range, 0 where there are no rows, and sums the days of each bucket', () => {
    const days = [{ day: '2026-01-02', rows: 3 }, { day: '2026-01-31', rows: 2 }, { day: '2026-03-15', rows: 1 }]
    const result = histogram(days, {}, 'month')
    expect(result).toEqual({ grain: 'month', buckets: [{ bucket: '2026-01-01', rows: 5 }, { bucket: '2026-02-01', rows: 0 }, { bucket: '2026-03-01', rows: 1 }] })
    expect(histogram([], {})).toEqual({ grain: 'day', buckets: [] })
  })
})
