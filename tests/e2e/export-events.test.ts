import { beforeAll, describe, expect, it } from 'vitest'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { ExportJobSchema, type ExportJobDTO } from '#shared/types/exports'
import type { TestEnvironment } from '../helpers/environment'
import { sql, waitFor } from '../helpers/faults'
import { client } from '../helpers/http'
import { openEventStream, type EventStreamClient, type ServerEvent } from '../helpers/sse'
import { useServerSuite } from '../helpers/suite'

const [TRANSACTIONS] = DATASETS.map(d => d.id) as [string]
const PATH = '/api/analytics/exports/events'

const job = (e: ServerEvent): ExportJobDTO => ExportJobSchema.parse(JSON.parse(e.data)) as ExportJobDTO
const of = (jobId: string, status?: string) => (e: ServerEvent) => e.event === 'export' && job(e).job_id === jobId && (!status || job(e).status === status)

/**
 * Live export status over HTTP: GET /api/analytics/exports/events against built servers sharing
 * one database — the main one runs the worker, a second web-only process shows that changes reach
 * every process through LISTEN/NOTIFY. Heartbeats and credential checks every second.
 */
describe('export events', () => {
  const suite = useServerSuite({
    name: 'export-events',
    users: 2,
    transactions: 3000,
    seed: 29,
    env: { EXPORT_EVENTS_HEARTBEAT_SECONDS: '1', EXPORT_EVENTS_AUTH_CHECK_SECONDS: '1', EXPORT_MAX_ACTIVE_PER_USER: '20' }
  })
  let http: ReturnType<typeof client>
  let alice: TestEnvironment['demo']['users'][0]
  let bob: TestEnvironment['demo']['users'][0]
  const open = (init: Parameters<typeof openEventStream>[1], query = '', base = suite.url) => openEventStream(`${base}${PATH}${query}`, init)
  const create = (token: string) => http.createExport(token, { dataset_id: TRANSACTIONS, format: 'csv' })

  /** A queued job no worker takes (run_at an hour ahead), so the test writes its changes itself. */
  async function heldJob(userId: string): Promise<string> {
    const [row] = await sql<{ id: string }>(suite.environment, `INSERT INTO jobs (user_id, type, status, metadata, progress, run_at, updated_at)
      VALUES ($1, 'EXPORT', 'pending', $2, '{"phase":"queued","percent":0,"rows":null,"bytes_uploaded":null}', now() + interval '1 hour', now()) RETURNING id`,
    [userId, JSON.stringify({ dataset_id: TRANSACTIONS, dataset_name: 'fct_transactions', format: 'csv', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] } })])
    return row!.id
  }

  const setProgress = (jobId: string, percent: number) => sql(suite.environment,
    `UPDATE jobs SET status = 'running', started_at = coalesce(started_at, now()), progress = $2, updated_at = now() WHERE id = $1`,
    [jobId, JSON.stringify({ phase: 'querying', percent, rows: percent * 10, bytes_uploaded: null })])

  async function signIn(user: typeof alice): Promise<string> {
    const res = await http.postJson('/api/auth/login', { email: user.email, password: user.password })
    expect(res.status).toBe(200)
    return res.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))!.split(';')[0]!
  }

  beforeAll(() => {
    http = client(suite.url)
    ;[alice, bob] = suite.demo.users as [typeof alice, typeof bob]
  })

  it('sends an event when an export is created, as it runs and when it completes, without a download URL; and heartbeats', async () => {
    const stream = await open({ token: alice.token })
    try {
      expect(stream.status).toBe(200)
      expect(stream.contentType).toMatch(/^text\/event-stream/)
      const jobId = await create(alice.token)
      const created = job(await stream.next(of(jobId, 'pending')))
      expect(created.progress?.phase).toBe('queued')
      await stream.next(of(jobId, 'running'))
      const done = job(await stream.next(of(jobId, 'completed')))
      expect(done.row_count).toBe(alice.transactions)
      expect(done.download_url).toBeNull()
      expect(done.checksum_sha256).toMatch(/^[0-9a-f]{64}$/)
      expect(stream.events.every(e => /^\d+$/.test(e.id ?? ''))).toBe(true)
      await waitFor('a heartbeat', async () => stream.comments.includes('heartbeat'), 5000)
    } finally {
      stream.close()
    }
  })

  it('sends each progress write, and nothing for a lease renewal', async () => {
    const jobId = await heldJob(alice.user_id)
    const stream = await open({ token: alice.token }, `?job_id=${jobId}`)
    try {
      // A stream of one export starts with it as it is.
      await stream.next(of(jobId, 'pending'))
      for (const percent of [10, 40, 70]) {
        await setProgress(jobId, percent)
        await stream.next(e => of(jobId)(e) && job(e).progress?.percent === percent)
      }
      const before = stream.events.length
      await sql(suite.environment, `UPDATE jobs SET locked_until = now() + interval '1 minute', updated_at = now() WHERE id = $1`, [jobId])
      await setProgress(jobId, 80)
      await stream.next(e => job(e).progress?.percent === 80)
      // The renewal in between made no event of its own.
      expect(stream.events.length).toBe(before + 1)
    } finally {
      stream.close()
      await sql(suite.environment, 'DELETE FROM jobs WHERE id = $1', [jobId])
    }
  })

  it('resumes after Last-Event-ID with every change it missed, each export as it is now', async () => {
    const first = await heldJob(alice.user_id)
    const second = await heldJob(alice.user_id)
    const stream = await open({ token: alice.token })
    let lastId: string
    try {
      await setProgress(first, 20)
      lastId = (await stream.next(of(first))).id!
    } finally {
      stream.close()
    }
    await stream.ended
    // Missed while away: both exports change, the first twice.
    await setProgress(first, 50)
    await setProgress(second, 30)
    await setProgress(first, 90)
    const resumed = await open({ token: alice.token, lastEventId: lastId })
    try {
      const a = await resumed.next(of(first))
      const b = await resumed.next(of(second))
      // Each as it is now (an export changed twice comes once, at its newest).
      expect(job(a).progress?.percent).toBe(90)
      expect(job(b).progress?.percent).toBe(30)
      // Then live again.
      await setProgress(second, 60)
      await resumed.next(e => of(second)(e) && job(e).progress?.percent === 60)
      // A resumed one-export stream replays only that export.
      const one = await open({ token: alice.token, lastEventId: lastId }, `?job_id=${second}`)
      try {
        await one.next(e => of(second)(e) && job(e).progress?.percent === 60)
        expect(one.events.every(of(second))).toBe(true)
      } finally {
        one.close()
      }
    } finally {
      resumed.close()
      await sql(suite.environment, 'DELETE FROM jobs WHERE id = ANY($1::uuid[])', [[first, second]])
    }
  })

  it('narrows to one export with job_id; another user\'s export or a bad id is refused', async () => {
    const mine = await heldJob(alice.user_id)
    const other = await heldJob(alice.user_id)
    const stream = await open({ token: alice.token }, `?job_id=${mine}`)
    try {
      await setProgress(other, 55)
      await setProgress(mine, 25)
      await stream.next(e => of(mine)(e) && job(e).progress?.percent === 25)
      expect(stream.events.some(of(other))).toBe(false)
    } finally {
      stream.close()
    }
    const bobs = await open({ token: bob.token }, `?job_id=${mine}`)
    expect(bobs.status).toBe(404)
    expect(JSON.parse(bobs.text).message).toBe('Export not found')
    expect((await open({ token: alice.token }, '?job_id=nope')).status).toBe(400)
    expect((await open({ token: alice.token, lastEventId: 'x' })).status).toBe(400)
    expect((await open({})).status).toBe(401)
    await sql(suite.environment, 'DELETE FROM jobs WHERE id = ANY($1::uuid[])', [[mine, other]])
  })

  it('keeps users apart', async () => {
    const bobs = await open({ token: bob.token })
    try {
      const alices = await create(alice.token)
      await http.waitForExport(alice.token, alices)
      const own = await create(bob.token)
      await bobs.next(of(own))
      expect(bobs.events.some(of(alices))).toBe(false)
      expect(bobs.events.every(e => job(e).job_id === own)).toBe(true)
    } finally {
      bobs.close()
    }
  })

  it('ends the stream when its session signs out or its token is revoked', async () => {
    const cookie = await signIn(alice)
    const bySession = await open({ cookie })
    expect(bySession.status).toBe(200)
    const res = await http.api('/api/tokens', { method: 'POST', cookie, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'events' }) })
    expect(res.status).toBe(201)
    const token = await res.json() as { id: string, token: string }
    const byToken = await open({ token: token.token })
    expect(byToken.status).toBe(200)
    const otherSession = await open({ cookie: await signIn(alice) })

    expect((await http.api('/api/auth/logout', { method: 'POST', cookie })).status).toBeLessThan(300)
    await waitFor('the signed-out session\'s stream to end', async () => bySession.isEnded(), 10_000)
    expect(byToken.isEnded()).toBe(false)

    expect((await http.api(`/api/tokens/${token.id}`, { method: 'DELETE', cookie: await signIn(alice) })).status).toBe(200)
    await waitFor('the revoked token\'s stream to end', async () => byToken.isEnded(), 10_000)
    // Another session of the same user is not affected.
    expect(otherSession.isEnded()).toBe(false)
    otherSession.close()
  })

  it('reaches a stream on another server process sharing the database', async () => {
    const web = await suite.startServer({ OUTPORT_ROLE: 'web' })
    const there = await open({ token: bob.token }, '', web.url)
    const here = await open({ token: bob.token })
    try {
      // Created through the second process, run by the first one's worker.
      const jobId = await client(web.url).createExport(bob.token, { dataset_id: TRANSACTIONS, format: 'parquet' })
      for (const stream of [there, here] as EventStreamClient[]) {
        await stream.next(of(jobId, 'pending'))
        await stream.next(of(jobId, 'completed'))
      }
    } finally {
      there.close()
      here.close()
    }
  })
})
