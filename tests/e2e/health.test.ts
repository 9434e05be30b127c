import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { TEST_BUCKET } from '../helpers/environment'
import { startRecordingProxy, type RecordingProxy } from '../helpers/proxy'
import { useServerSuite } from '../helpers/suite'

const TTL_MS = 5000
const READY = { status: 'ok', checks: { database: { ok: true }, warehouse: { ok: true }, storage: { ok: true } } }

/**
 * Liveness and readiness on a server of its own, with S3 behind a proxy that counts what the
 * server asks of it: health requests are public, so they must never turn into as many S3 requests.
 */
describe('health', () => {
  let proxy: RecordingProxy
  const suite = useServerSuite({
    name: 'health',
    users: 1,
    transactions: 200,
    prepare: async ({ environment, onTeardown }) => {
      proxy = await startRecordingProxy(Number(new URL(environment.env.S3_ENDPOINT!).port))
      onTeardown(() => proxy.close())
    },
    env: () => ({ S3_ENDPOINT: proxy.endpoint })
  })

  const headBuckets = () => proxy.requests.filter(r => r.startsWith(`HEAD /${TEST_BUCKET}`)).length
  const flood = (path: string, n: number) => Promise.all(Array.from({ length: n }, async () => {
    const res = await fetch(`${suite.server.url}${path}`)
    return { status: res.status, body: await res.json() }
  }))

  it('/api/health/live answers 200 without asking any dependency', async () => {
    proxy.requests.length = 0
    const answers = await flood('/api/health/live', 200)
    expect(answers.every(a => a.status === 200 && a.body.status === 'ok')).toBe(true)
    expect(answers[0]!.body).toEqual({ status: 'ok' })
    expect(proxy.requests).toEqual([])
  })

  it('400 concurrent readiness requests (/api/health/ready and /api/health) cost S3 at most a handful of HeadBucket calls', async () => {
    // Let whatever start-up cached lapse, so this flood has to probe.
    await sleep(TTL_MS + 200)
    proxy.requests.length = 0
    const answers = await Promise.all([flood('/api/health/ready', 200), flood('/api/health', 200)]).then(a => a.flat())
    expect(answers).toHaveLength(400)
    for (const answer of answers) expect(answer).toEqual({ status: 200, body: READY })
    expect(headBuckets()).toBeGreaterThanOrEqual(1)
    // One probe per 5 s: two if the flood straddles a refresh, never one per request.
    expect(headBuckets()).toBeLessThanOrEqual(3)
    expect(proxy.requests.length).toBe(headBuckets())
  })

  it('storage down: readiness says so (503) within the TTL, liveness stays 200, and a flood still costs a few probes', async () => {
    proxy.down = true
    try {
      await expect.poll(async () => (await fetch(`${suite.server.url}/api/health/ready`)).status, { timeout: TTL_MS * 3, interval: 250 }).toBe(503)
      proxy.requests.length = 0
      const answers = await flood('/api/health/ready', 200)
      for (const answer of answers) {
        expect(answer).toEqual({ status: 503, body: { status: 'degraded', checks: { ...READY.checks, storage: { ok: false, error: 'storage unavailable' } } } })
      }
      // A failed probe is cached like a good one (the SDK itself retries each probe up to 3 times).
      expect(headBuckets()).toBeLessThanOrEqual(6)
      expect((await fetch(`${suite.server.url}/api/health/live`)).status).toBe(200)
    } finally {
      proxy.down = false
    }
    await expect.poll(async () => (await fetch(`${suite.server.url}/api/health/ready`)).status, { timeout: TTL_MS * 3, interval: 250 }).toBe(200)
  })

  it('a worker-only process (OUTPORT_ROLE=worker) answers all three health routes and nothing else', async () => {
    const worker = await suite.startServer({ OUTPORT_ROLE: 'worker' })
    try {
      expect(await (await fetch(`${worker.url}/api/health/live`)).json()).toEqual({ status: 'ok' })
      for (const path of ['/api/health/ready', '/api/health']) {
        const res = await fetch(`${worker.url}${path}`)
        expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: READY })
      }
      expect((await fetch(`${worker.url}/api/accounts`)).status).toBe(404)
    } finally {
      await worker.stop()
    }
  })
})
