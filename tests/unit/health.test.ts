import { describe, expect, it } from 'vitest'
import { Readiness } from '#server/lib/health'

function deferred() {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('Readiness', () => {
  it('asks each dependency once per TTL however many callers come, and again once it lapsed', async () => {
    let now = 1_000_000
    const calls = { database: 0, storage: 0 }
    const readiness = new Readiness({
      database: async () => void calls.database++,
      storage: async () => void calls.storage++
    }, { ttlMs: 5000, now: () => now })

    const reports = await Promise.all(Array.from({ length: 200 }, () => readiness.check()))
    expect(reports.every(r => r.ok)).toBe(true)
    expect(reports[0]).toEqual({ ok: true, checks: { database: { ok: true }, storage: { ok: true } } })
    expect(calls).toEqual({ database: 1, storage: 1 })

    now += 4999
    for (let i = 0; i < 50; i++) await readiness.check()
    expect(calls).toEqual({ database: 1, storage: 1 })

    now += 1
    await Promise.all(Array.from({ length: 50 }, () => readiness.check()))
    expect(calls).toEqual({ database: 2, storage: 2 })
  })

  it('callers that arrive while a probe runs share it', async () => {
    let now = 0
    const gate = deferred()
    let calls = 0
    const readiness = new Readiness({ storage: () => (calls++, gate.promise) }, { ttlMs: 5000, now: () => now })
    const waiting = Array.from({ length: 100 }, () => readiness.check())
    // Time passes while the probe is under way: still the one probe.
    now += 60_000
    waiting.push(readiness.check())
    gate.resolve()
    const reports = await Promise.all(waiting)
    expect(calls).toBe(1)
    expect(reports.every(r => r.ok)).toBe(true)
    // The TTL runs from when the probe finished.
    now += 4000
    await readiness.check()
    expect(calls).toBe(1)
  })

  it('caches a failure the same way, logs its reason once and reports only the dependency\'s name', async () => {
    let now = 0
    let up = false
    let calls = 0
    const logs: string[] = []
    const readiness = new Readiness({
      database: async () => {},
      storage: async () => {
        calls++
        if (!up) throw new Error('connect ECONNREFUSED 10.0.0.7:9000')
      }
    }, { ttlMs: 5000, now: () => now, log: line => logs.push(line) })

    const reports = await Promise.all(Array.from({ length: 100 }, () => readiness.check()))
    expect(reports[0]).toEqual({ ok: false, checks: { database: { ok: true }, storage: { ok: false, error: 'storage unavailable' } } })
    expect(calls).toBe(1)
    expect(logs).toEqual(['health: storage unavailable: connect ECONNREFUSED 10.0.0.7:9000'])

    up = true
    now += 1000
    expect((await readiness.check()).ok).toBe(false)
    now += 4000
    expect(await readiness.check()).toEqual({ ok: true, checks: { database: { ok: true }, storage: { ok: true } } })
    expect(calls).toBe(2)
  })

  it('a probe that never answers fails after the timeout instead of holding every caller', async () => {
    const readiness = new Readiness({ storage: () => new Promise(() => {}) }, { timeoutMs: 50 })
    const started = Date.now()
    expect(await readiness.check()).toEqual({ ok: false, checks: { storage: { ok: false, error: 'storage unavailable' } } })
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('a probe that throws synchronously is a failure, not a crash', async () => {
    const readiness = new Readiness({ database: () => {
      throw new Error('boom')
    } })
    expect((await readiness.check()).checks.database).toEqual({ ok: false, error: 'database unavailable' })
  })
})
