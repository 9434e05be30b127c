import { describe, expect, it } from 'vitest'
import { describeWatermark, fromDraft, newDraft, toDraft, zonedMidnight } from '../../../app/utils/schedules'

describe('the schedule form\'s draft', () => {
  it('round-trips "only new rows since the last run" and minute cadences', () => {
    const incremental = { name: null, range: { type: 'since_last_run' as const, initial: { start_date: '2026-10-01' } }, cadence: { frequency: 'minutes' as const, every: 10 as const, time_zone: 'Europe/London' } }
    const draft = toDraft(incremental)
    expect(draft).toMatchObject({ range: 'since_last_run', initialStartDate: '2026-10-01', frequency: 'minutes', every: 10 })
    expect(fromDraft(draft)).toMatchObject({ range: incremental.range, cadence: incremental.cadence })
    expect(fromDraft({ ...newDraft(), range: 'since_last_run', initialStartDate: '' }).range).toEqual({ type: 'since_last_run', initial: 'all' })
  })
  it('says the watermark in words, in the reader\'s zone', () => {
    expect(describeWatermark('2026-12-06T14:05:59.123456Z', 'Europe/London')).toBe('exported up to 6 Dec 14:05')
    expect(describeWatermark('2026-07-06T14:05:00Z', 'Europe/London')).toBe('exported up to 6 Jul 15:05')
  })
  it('finds local midnight in a zone, on daylight saving days too', () => {
    expect(zonedMidnight('2026-12-06', 'Europe/London').toISOString()).toBe('2026-12-06T00:00:00.000Z')
    expect(zonedMidnight('2026-07-06', 'Europe/London').toISOString()).toBe('2026-07-05T23:00:00.000Z')
    expect(zonedMidnight('2026-03-08', 'America/New_York').toISOString()).toBe('2026-03-08T05:00:00.000Z')
    expect(zonedMidnight('2026-03-09', 'America/New_York').toISOString()).toBe('2026-03-09T04:00:00.000Z')
  })
})
