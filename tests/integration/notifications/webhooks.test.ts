import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createDb, type Db } from '#server/lib/db/client'
import { createEndpoint } from '#server/lib/notifications/webhooks/endpoints'
import { enqueueDelivery, enqueueEvent, WebhookDeliverer } from '#server/lib/notifications/webhooks/queue'
import { attemptDelivery } from '#server/lib/notifications/webhooks/deliver'
import { createTestDatabase, type TestDatabase } from '../../helpers/database'

interface Received { headers: IncomingHttpHeaders, body: string }

/** A local receiver answering from a script of status codes (the last one repeats). */
async function startReceiver(script: Array<number | ((res: import('node:http').ServerResponse) => void)>) {
  const received: Received[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c))
    req.on('end', () => {
      received.push({ headers: req.headers, body })
      const step = script[Math.min(received.length - 1, script.length - 1)]!
      if (typeof step === 'function') return step(res)
      res.writeHead(step).end('ok')
    })
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  return { url, received, close: () => new Promise<void>(r => server.close(() => r())) }
}

describe('webhook delivery loop', () => {
  let database: TestDatabase
  let db: Db
  let userId: string
  const closers: Array<() => Promise<void>> = []
  const disabled: string[] = []

  const deliverer = (over: Partial<ConstructorParameters<typeof WebhookDeliverer>[0]> = {}) => new WebhookDeliverer({
    db, allowHosts: ['127.0.0.1'], retryBaseMs: 20, maxAttempts: 5, disableAfterFailures: 2, pollMs: 20,
    log: () => {}, onDisabled: (_e, reason) => disabled.push(reason), ...over
  })
  async function runUntilSettled(d: WebhookDeliverer, ms = 8000) {
    d.start()
    await WebhookDeliverer.idle(db, ms)
    await d.stop()
  }
  const endpoint = (url: string) => createEndpoint(db, userId, { url, events: ['export.completed'] }, { allowHosts: ['127.0.0.1'], maxPerUser: 100 })

  beforeAll(async () => {
    database = await createTestDatabase()
    db = createDb(database.url, { max: 6 })
    userId = (await db.user.create({ data: { email: 'w@example.com', passwordHash: 'x', displayName: 'W' } })).id
  })
  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
  })
  afterAll(async () => {
    await db?.$disconnect()
    await database?.drop()
  })

  it('an export\'s download link is queued only to its own user\'s endpoints that subscribed to that event', async () => {
    const other = (await db.user.create({ data: { email: 'w2@example.com', passwordHash: 'x', displayName: 'W2' } })).id
    const policy = { allowHosts: ['127.0.0.1'], maxPerUser: 100 }
    const mine = await endpoint('http://127.0.0.1:9/mine')
    const failuresOnly = await createEndpoint(db, userId, { url: 'http://127.0.0.1:9/failures', events: ['export.failed'] }, policy)
    const theirs = await createEndpoint(db, other, { url: 'http://127.0.0.1:9/theirs', events: ['export.completed'] }, policy)
    const data = { job_id: '7c9e6679-7425-40de-944b-e07fc1f90ae7', download_link: 'https://outport.example/exports/x/download?token=t' }
    expect(await enqueueEvent(db, userId, 'export.completed', data)).toBe(1)
    const queued = await db.webhookDelivery.findMany({ where: { endpointId: { in: [mine.id, failuresOnly.id, theirs.id] } } })
    expect(queued.map(d => d.endpointId)).toEqual([mine.id])
    await db.webhookEndpoint.deleteMany({ where: { id: { in: [mine.id, failuresOnly.id, theirs.id] } } })
    await db.user.delete({ where: { id: other } })
  })

  it('500, 500, 200: three attempts with one webhook-id, each signed so the secret verifies it', async () => {
    const receiver = await startReceiver([500, 500, 200])
    closers.push(receiver.close)
    const ep = await endpoint(receiver.url)
    const delivery = await enqueueDelivery(db, ep.id, 'export.completed', { job_id: 'j1' })
    await runUntilSettled(deliverer())
    expect(receiver.received).toHaveLength(3)
    expect(new Set(receiver.received.map(r => r.headers['webhook-id']))).toEqual(new Set([delivery.id]))
    expect(delivery.id).toMatch(/^msg_[0-9A-Z]{26}$/)
    const wh = new Webhook(ep.secret)
    for (const r of receiver.received) {
      expect(wh.verify(r.body, r.headers as Record<string, string>)).toMatchObject({ type: 'export.completed', data: { job_id: 'j1' } })
    }
    expect(() => new Webhook(`whsec_${Buffer.from('x'.repeat(24)).toString('base64')}`).verify(receiver.received[0]!.body, receiver.received[0]!.headers as Record<string, string>)).toThrow()
    const row = await db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } })
    expect(row).toMatchObject({ status: 'delivered', attempts: 3, lastStatusCode: 200 })
    expect(row.lastLatencyMs).toBeGreaterThanOrEqual(0)
  })

  it('410 Gone disables the endpoint and drops what was queued for it; the user is told', async () => {
    const receiver = await startReceiver([410])
    closers.push(receiver.close)
    const ep = await endpoint(receiver.url)
    await enqueueDelivery(db, ep.id, 'export.completed', {})
    await runUntilSettled(deliverer())
    expect(receiver.received).toHaveLength(1)
    expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: ep.id } })).toMatchObject({ enabled: false, disabledReason: expect.stringContaining('410') })
    expect(disabled.at(-1)).toContain('410')
  })

  it('gives up after WEBHOOK_MAX_ATTEMPTS, and after N given-up deliveries in a row disables the endpoint', async () => {
    const receiver = await startReceiver([503])
    closers.push(receiver.close)
    const ep = await endpoint(receiver.url)
    await enqueueDelivery(db, ep.id, 'export.completed', { n: 1 })
    await runUntilSettled(deliverer({ maxAttempts: 3 }))
    expect(receiver.received).toHaveLength(3)
    expect((await db.webhookEndpoint.findUniqueOrThrow({ where: { id: ep.id } })).enabled).toBe(true)
    await enqueueDelivery(db, ep.id, 'export.completed', { n: 2 })
    await runUntilSettled(deliverer({ maxAttempts: 3 }))
    expect(await db.webhookEndpoint.findUniqueOrThrow({ where: { id: ep.id } })).toMatchObject({ enabled: false, consecutiveFailures: 2 })
  })

  it('does not follow redirects (a 3xx is a failed attempt)', async () => {
    const target = await startReceiver([200])
    const receiver = await startReceiver([(res) => {
      res.writeHead(302, { location: target.url }).end()
    }])
    closers.push(receiver.close, target.close)
    const result = await attemptDelivery(receiver.url, {}, '{}', { allowHosts: ['127.0.0.1'] })
    expect(result).toMatchObject({ ok: false, statusCode: 302, error: expect.stringContaining('redirect') })
    expect(target.received).toHaveLength(0)
  })

  it('reads at most 64 KB of an answer, however much the receiver sends', async () => {
    const receiver = await startReceiver([(res) => {
      res.writeHead(200)
      const chunk = 'x'.repeat(64 * 1024)
      for (let i = 0; i < 64; i++) res.write(chunk)
      res.end()
    }])
    closers.push(receiver.close)
    const result = await attemptDelivery(receiver.url, {}, '{}', { allowHosts: ['127.0.0.1'] })
    expect(result.ok).toBe(true)
    expect(result.body.length).toBe(64 * 1024)
  })

  it('connects by name to the vetted addresses (localhost: ::1 and 127.0.0.1, whichever listens)', async () => {
    const receiver = await startReceiver([204])
    closers.push(receiver.close)
    const result = await attemptDelivery(receiver.url.replace('127.0.0.1', 'localhost'), {}, '{}', { allowHosts: ['localhost'] })
    expect(result).toMatchObject({ ok: true, statusCode: 204 })
    expect(receiver.received).toHaveLength(1)
  })

  it('times out a receiver that never answers', async () => {
    const receiver = await startReceiver([() => {}])
    closers.push(receiver.close)
    const result = await attemptDelivery(receiver.url, {}, '{}', { allowHosts: ['127.0.0.1'], timeoutMs: 300 })
    expect(result).toMatchObject({ ok: false, statusCode: null, error: expect.stringContaining('timed out') })
  })

  it('refuses at send time an address that is no longer allowed (nothing is sent)', async () => {
    const receiver = await startReceiver([200])
    closers.push(receiver.close)
    const ep = await endpoint(receiver.url)
    await enqueueDelivery(db, ep.id, 'export.completed', {})
    const d = deliverer({ allowHosts: [] })
    await d.tick()
    expect(receiver.received).toHaveLength(0)
    const [row] = await db.webhookDelivery.findMany({ where: { endpointId: ep.id } })
    expect(row!.lastError).toMatch(/refused/)
    // A name that resolves to loopback is refused the same way, after DNS.
    const byName = await attemptDelivery(receiver.url.replace('127.0.0.1', 'localhost').replace('http:', 'https:'), {}, '{}', { allowHosts: [] })
    expect(byName.error).toMatch(/private or reserved/)
  })

  it('two loops never send the same attempt twice (FOR UPDATE SKIP LOCKED)', async () => {
    const receiver = await startReceiver([200])
    closers.push(receiver.close)
    const ep = await endpoint(receiver.url)
    const ids: string[] = []
    for (let i = 0; i < 20; i++) ids.push((await enqueueDelivery(db, ep.id, 'export.completed', { i })).id)
    const a = deliverer({ batchSize: 3 })
    const b = deliverer({ batchSize: 3 })
    a.start()
    b.start()
    await WebhookDeliverer.idle(db, 8000)
    await Promise.all([a.stop(), b.stop()])
    expect(receiver.received.map(r => r.headers['webhook-id']).sort()).toEqual(ids.sort())
  })
})
