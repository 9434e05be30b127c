import { describe, expect, it } from 'vitest'
import { isoToUs, usToIso } from '#server/lib/schedules/watermark'

describe('watermarks at microsecond precision', () => {
  it('round-trips instants a microsecond apart (a JS Date would make them equal)', () => {
    const a = isoToUs('2026-12-06T14:05:00.000001Z')
    const b = isoToUs('2026-12-06T14:05:00.000002Z')
    expect(b - a).toBe(1n)
    expect(usToIso(a)).toBe('2026-12-06T14:05:00.000001Z')
    expect(usToIso(isoToUs('2026-12-06T14:05:00Z'))).toBe('2026-12-06T14:05:00.000000Z')
    expect(usToIso(isoToUs('2026-12-06T14:05:00.5Z'))).toBe('2026-12-06T14:05:00.500000Z')
    expect(usToIso(isoToUs('1969-12-31T23:59:59.999999Z'))).toBe('1969-12-31T23:59:59.999999Z')
    expect(isoToUs('2026-12-06T14:05:00.1234567Z')).toBe(isoToUs('2026-12-06T14:05:00.123456Z'))
  })
  it('refuses what is not a UTC instant', () => {
    expect(() => isoToUs('2026-12-06 14:05')).toThrow(RangeError)
    expect(() => isoToUs('2026-13-06T14:05:00Z')).toThrow(RangeError)
  })
})
