import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Webhook } from 'standardwebhooks'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createDb, type Db } from '#server/lib/db/client'
import { createEndpoint, ManualSends, redeliver, sendTest } from '#server/lib/notifications/webhooks/endpoints'
import { enqueueDelivery, enqueueEvent, WebhookDeliverer } from '#server/lib/notifications/webhooks/queue'
import { RequestError } from '#server/lib/validation'
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

/** A receiver that accepts connections and never answers; counts how many it holds at once. */
async function startTarpit() {
  const sockets = new Set<Socket>()
  let mostAtOnce = 0
  const server = createTcpServer((socket) => {
    sockets.add(socket)
    mostAtOnce = Math.max(mostAtOnce, sockets.size)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    mostAtOnce: () => mostAtOnce,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy()
      server.close(() => r())
    })
  }
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
    expect((await enqueueEvent(db, userId, 'export.completed', data, 1000)).queued).toBe(1)
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

  it('a tarpit endpoint with 2000 deliveries due holds one slot in all loops together; another endpoint\'s delivery goes at once', async () => {
    const tarpit = await startTarpit()
    const receiver = await startReceiver([200])
    closers.push(tarpit.close, receiver.close)
    const slow = await endpoint(tarpit.url)
    const fast = await endpoint(receiver.url)
    // Older than anything else in the queue, as if the tarpit's owner had queued them first.
    await db.$executeRaw`
      INSERT INTO webhook_deliveries (id, endpoint_id, event_type, payload, status, next_attempt_at)
      SELECT 'msg_tarpit' || n, ${slow.id}::uuid, 'ping', '{}'::jsonb, 'pending', now() - interval '1 hour' - n * interval '1 ms'
      FROM generate_series(1, 2000) n`
    const loops = [deliverer({ batchSize: 3, timeoutMs: 3000 }), deliverer({ batchSize: 3, timeoutMs: 3000 })]
    for (const loop of loops) loop.start()
    try {
      await sleep(300)
      const started = Date.now()
      const delivery = await enqueueDelivery(db, fast.id, 'export.completed', { job_id: 'j-fast' })
      loops[0]!.wake()
      while (!receiver.received.length && Date.now() - started < 5000) await sleep(20)
      expect(receiver.received.map(r => r.headers['webhook-id'])).toEqual([delivery.id])
      // Well inside the tarpit's attempt timeout: nothing waited for it.
      expect(Date.now() - started).toBeLessThan(1500)
      expect(tarpit.mostAtOnce()).toBe(1)
    } finally {
      await Promise.all(loops.map(loop => loop.stop()))
      await db.webhookEndpoint.delete({ where: { id: slow.id } })
    }
  })

  it('one user\'s many tarpits hold at most their per-user share of the slots; another user\'s delivery goes at once', async () => {
    const tarpit = await startTarpit()
    const receiver = await startReceiver([200])
    closers.push(tarpit.close, receiver.close)
    const greedy = (await db.user.create({ data: { email: 'greedy@example.com', passwordHash: 'x', displayName: 'G' } })).id
    const slow = await Promise.all(Array.from({ length: 8 }, (_, i) => createEndpoint(db, greedy, { url: `${tarpit.url}?n=${i}`, events: ['export.completed'] }, { allowHosts: ['127.0.0.1'], maxPerUser: 100 })))
    const fast = await endpoint(receiver.url)
    for (const e of slow) {
      await db.$executeRaw`
        INSERT INTO webhook_deliveries (id, endpoint_id, event_type, payload, status, next_attempt_at)
        SELECT 'msg_greedy' || ${e.id} || n, ${e.id}::uuid, 'ping', '{}'::jsonb, 'pending', now() - interval '1 hour'
        FROM generate_series(1, 50) n`
    }
    // Six slots in all: without a per-user budget the eight tarpits would take every one.
    const loops = [deliverer({ batchSize: 3, timeoutMs: 3000 }), deliverer({ batchSize: 3, timeoutMs: 3000 })]
    for (const loop of loops) loop.start()
    try {
      await sleep(300)
      const started = Date.now()
      const delivery = await enqueueDelivery(db, fast.id, 'export.completed', { job_id: 'j-other-user' })
      loops[1]!.wake()
      while (!receiver.received.length && Date.now() - started < 5000) await sleep(20)
      expect(receiver.received.map(r => r.headers['webhook-id'])).toEqual([delivery.id])
      expect(Date.now() - started).toBeLessThan(1500)
      expect(tarpit.mostAtOnce()).toBe(2)
    } finally {
      await Promise.all(loops.map(loop => loop.stop()))
      await db.webhookEndpoint.deleteMany({ where: { userId: greedy } })
    }
  })

  it('caps pending deliveries per endpoint: an event is dropped for a full one, a test ping or redelivery is refused (409)', async () => {
    const owner = (await db.user.create({ data: { email: 'cap@example.com', passwordHash: 'x', displayName: 'C' } })).id
    const make = (url: string) => createEndpoint(db, owner, { url, events: ['export.completed'] }, { allowHosts: ['127.0.0.1'], maxPerUser: 10 })
    const [full, roomy] = [await make('http://127.0.0.1:9/full'), await make('http://127.0.0.1:9/roomy')]
    for (let i = 0; i < 3; i++) await enqueueDelivery(db, full.id, 'export.completed', { i })
    await expect(enqueueEvent(db, owner, 'export.completed', {}, 3)).resolves.toEqual({ queued: 1, dropped: [full.id] })
    const sends = new ManualSends(db, { perMinute: 100, maxPendingPerEndpoint: 3 })
    await expect(sendTest(db, owner, full.id, sends)).rejects.toMatchObject({ statusCode: 409, message: expect.stringContaining('3 deliveries waiting') })
    const done = await enqueueDelivery(db, full.id, 'export.completed', {})
    await db.webhookDelivery.update({ where: { id: done.id }, data: { status: 'failed' } })
    await expect(redeliver(db, owner, full.id, done.id, sends)).rejects.toMatchObject({ statusCode: 409 })
    await expect(sendTest(db, owner, roomy.id, sends)).resolves.toMatchObject({ event: 'ping', status: 'pending' })
    await db.webhookEndpoint.deleteMany({ where: { userId: owner } })
  })

  it('limits test pings and redeliveries per user across processes (429 with Retry-After); other users are unaffected', async () => {
    const newUser = async (email: string) => (await db.user.create({ data: { email, passwordHash: 'x', displayName: email } })).id
    const [one, two] = [await newUser('rate-1@example.com'), await newUser('rate-2@example.com')]
    const make = (owner: string) => createEndpoint(db, owner, { url: 'http://127.0.0.1:9/rate', events: ['export.completed'] }, { allowHosts: ['127.0.0.1'], maxPerUser: 10 })
    const [mine, theirs] = [await make(one), await make(two)]
    // Two instances stand for two web processes sharing the store.
    const processes = [new ManualSends(db, { perMinute: 3, maxPendingPerEndpoint: 1000 }), new ManualSends(db, { perMinute: 3, maxPendingPerEndpoint: 1000 })]
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => sendTest(db, one, mine.id, processes[i % 2]!).then(() => 202, (error: RequestError) => error)))
    expect(outcomes.filter(o => o === 202)).toHaveLength(3)
    const refused = outcomes.filter((o): o is RequestError => o instanceof RequestError)
    expect(refused).toHaveLength(5)
    for (const error of refused) {
      expect(error.statusCode).toBe(429)
      expect(error.options.retryAfterSeconds).toBeGreaterThan(0)
      expect(error.options.retryAfterSeconds).toBeLessThanOrEqual(60)
    }
    const failed = await enqueueDelivery(db, mine.id, 'export.completed', {})
    await db.webhookDelivery.update({ where: { id: failed.id }, data: { status: 'failed' } })
    await expect(redeliver(db, one, mine.id, failed.id, processes[0]!)).rejects.toMatchObject({ statusCode: 429 })
    await expect(sendTest(db, two, theirs.id, processes[1]!)).resolves.toMatchObject({ event: 'ping' })
    await db.webhookEndpoint.deleteMany({ where: { userId: { in: [one, two] } } })
  })
})
