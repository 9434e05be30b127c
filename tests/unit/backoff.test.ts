import { describe, expect, it } from 'vitest'
import { backoffMs } from '#server/lib/backoff'

describe('backoffMs', () => {
  it('doubles from the base with each failed attempt, unjittered by default', () => {
    expect([1, 2, 3, 4, 5].map(attempt => backoffMs(attempt, { baseMs: 200 }))).toEqual([200, 400, 800, 1600, 3200])
    expect(backoffMs(0, { baseMs: 200 })).toBe(200)
  })

  it('spreads each delay over its jitter range', () => {
    const jitter = [0.5, 1] as const
    expect(backoffMs(3, { baseMs: 2000, jitter }, () => 0)).toBe(4000)
    expect(backoffMs(3, { baseMs: 2000, jitter }, () => 0.5)).toBe(6000)
    expect(backoffMs(3, { baseMs: 2000, jitter }, () => 0.999999)).toBe(8000)
  })

  it('gives the webhook deliveries\' ±20% schedule', () => {
    const jitter = [0.8, 1.2] as const
    expect(backoffMs(1, { baseMs: 30_000, jitter }, () => 0.5)).toBe(30_000)
    expect(backoffMs(5, { baseMs: 30_000, jitter }, () => 0.5)).toBe(480_000)
    expect(backoffMs(3, { baseMs: 1000, jitter }, () => 0)).toBe(3200)
    expect(backoffMs(3, { baseMs: 1000, jitter }, () => 0.999999)).toBe(4800)
  })
})
