import { beforeAll, describe, expect, it } from 'vitest'
import type { AuditEventDTO } from '#shared/types/audit'
import type { ExportJobDTO } from '#shared/types/exports'
import type { CreatedApiTokenDTO } from '#shared/types/tokens'
import { hashToken } from '#server/lib/auth/tokens'
import { DATASETS } from '#server/lib/warehouse/datasets'
import type { TestEnvironment } from '../helpers/environment'
import { objectKeys, sql } from '../helpers/faults'
import { client } from '../helpers/http'
import { useServerSuite } from '../helpers/suite'

const [TRANSACTIONS, DAILY, MONTHLY] = DATASETS.map(d => d.id) as [string, string, string]
const TOKEN_LIMIT = 5
const METRICS_TOKEN = 'self-service-metrics'

/**
 * Self-service API tokens, deleting exports, the history's filters and the audit trail, through the
 * built server. TRUST_PROXY is on so each request can name its client address (X-Forwarded-For),
 * which the audit trail must record.
 */
describe('self-service: tokens, export deletion, filters, audit', () => {
  const suite = useServerSuite({
    name: 'self-service',
    users: 2,
    transactions: 300,
    seed: 23,
    env: { TRUST_PROXY: 'true', API_TOKENS_MAX_PER_USER: String(TOKEN_LIMIT), METRICS_TOKEN }
  })
  let http: ReturnType<typeof client>
  let alice: TestEnvironment['demo']['users'][0]
  let bob: TestEnvironment['demo']['users'][0]
  let aliceCookie: string
  let bobCookie: string

  // A cookie request as the app sends it (same-origin, so CSRF lets it through).
  const asSession = (cookie: string, headers: Record<string, string> = {}) => ({ cookie, headers: { 'sec-fetch-site': 'same-origin', ...headers } })

  async function signIn(user: typeof alice): Promise<string> {
    const res = await http.postJson('/api/auth/login', { email: user.email, password: user.password }, { headers: { 'x-forwarded-for': '198.51.100.1' } })
    expect(res.status).toBe(200)
    return res.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))!.split(';')[0]!
  }

  async function createToken(cookie: string, body: Record<string, unknown>): Promise<Response> {
    return http.postJson('/api/tokens', body, asSession(cookie))
  }

  async function auditEvents(token: string): Promise<AuditEventDTO[]> {
    const res = await http.api('/api/audit?limit=100', { token })
    expect(res.status).toBe(200)
    return (await res.json()).events
  }

  beforeAll(async () => {
    ;[alice, bob] = suite.demo.users as [typeof alice, typeof bob]
    http = client(suite.url)
    aliceCookie = await signIn(alice)
    bobCookie = await signIn(bob)
  })

  describe('API tokens', () => {
    it('a token created with a session works for exports, is listed by its prefix, and stops the moment it is revoked', async () => {
      const res = await createToken(aliceCookie, { name: 'nightly report', expires_in_days: 30 })
      expect(res.status).toBe(201)
      const created: CreatedApiTokenDTO = await res.json()
      expect(created.token).toMatch(/^otp_[A-Za-z0-9_-]{43}$/)
      expect(created.token.startsWith(created.prefix!)).toBe(true)
      expect(created.prefix).toHaveLength(12)
      expect(Date.parse(created.expires_at!) - Date.now()).toBeGreaterThan(29.9 * 86_400_000)

      const post = await http.postJson('/api/analytics/exports', { dataset_id: MONTHLY, format: 'csv' }, { token: created.token })
      expect(post.status).toBe(202)

      const list = await http.api('/api/tokens', asSession(aliceCookie))
      expect(list.status).toBe(200)
      const { tokens } = await list.json()
      const listed = tokens.find((t: { id: string }) => t.id === created.id)
      expect(listed).toMatchObject({ name: 'nightly report', prefix: created.prefix, expired: false })
      // The secret is shown once: never in the list.
      expect(JSON.stringify(tokens)).not.toContain(created.token)

      const revoke = await http.api(`/api/tokens/${created.id}`, { method: 'DELETE', ...asSession(aliceCookie) })
      expect(revoke.status).toBe(200)
      expect((await http.api('/api/auth/me', { token: created.token })).status).toBe(401)
      expect((await http.postJson('/api/analytics/exports', { dataset_id: MONTHLY, format: 'csv' }, { token: created.token })).status).toBe(401)
      expect((await (await http.api('/api/tokens', asSession(aliceCookie))).json()).tokens.map((t: { id: string }) => t.id)).not.toContain(created.id)
      // Revoking again, or another user's token: 404.
      expect((await http.api(`/api/tokens/${created.id}`, { method: 'DELETE', ...asSession(aliceCookie) })).status).toBe(404)

      const events = await auditEvents(alice.token)
      expect(events.find(e => e.action === 'token.created' && e.object_id === created.id)).toBeDefined()
      expect(events.find(e => e.action === 'token.revoked' && e.object_id === created.id)).toBeDefined()
    })

    it('a token cannot create, list or revoke tokens (403), and another user cannot revoke yours (404)', async () => {
      expect((await http.postJson('/api/tokens', { name: 'successor' }, { token: alice.token })).status).toBe(403)
      expect((await http.api('/api/tokens', { token: alice.token })).status).toBe(403)
      const mine: CreatedApiTokenDTO = await (await createToken(aliceCookie, { name: 'mine' })).json()
      expect((await http.api(`/api/tokens/${mine.id}`, { method: 'DELETE', token: alice.token })).status).toBe(403)
      expect((await http.api(`/api/tokens/${mine.id}`, { method: 'DELETE', ...asSession(bobCookie) })).status).toBe(404)
      expect((await http.api('/api/auth/me', { token: mine.token })).status).toBe(200)
      // An invalid bearer token is a 401 as everywhere, not a 403.
      expect((await http.api('/api/tokens', { token: 'otp_' + 'A'.repeat(43) })).status).toBe(401)
      await http.api(`/api/tokens/${mine.id}`, { method: 'DELETE', ...asSession(aliceCookie) })
    })

    it('scopes: a default token exports and schedules but cannot open a channel (403 naming webhooks:write); a session can do all', async () => {
      const created: CreatedApiTokenDTO = await (await createToken(aliceCookie, { name: 'defaults' })).json()
      expect(created.scopes).toEqual(['exports:read', 'exports:write', 'schedules:write'])
      const token = created.token
      const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      const refusals = {
        'POST /api/webhooks': () => http.postJson('/api/webhooks', { url: 'https://hooks.example.com/in', events: ['export.completed'] }, { token }),
        'POST /api/telegram/link': () => http.postJson('/api/telegram/link', {}, { token }),
        'DELETE /api/telegram/link': () => http.api('/api/telegram/link', { method: 'DELETE', token }),
        'PATCH /api/notifications/settings': () => http.api('/api/notifications/settings', { method: 'PATCH', token, ...json({ email: { completed: false } }) })
      }
      for (const [route, call] of Object.entries(refusals)) {
        const res = await call()
        expect(res.status, route).toBe(403)
        const body = await res.json()
        expect(body.message, route).toContain('webhooks:write')
        expect(body.data, route).toEqual({ required_scope: 'webhooks:write' })
      }
      expect((await (await http.api('/api/notifications/settings', { token })).json()).email.completed).toBe(true)
      expect((await http.api('/api/webhooks', { token })).status).toBe(200)

      // Exports and schedules, the default token's work.
      expect((await http.postJson('/api/analytics/exports', { dataset_id: MONTHLY, format: 'csv' }, { token })).status).toBe(202)
      const schedule = await http.postJson('/api/analytics/schedules', { dataset_id: MONTHLY, format: 'csv', range: 'all_dates', cadence: { frequency: 'daily', time: '08:00', time_zone: 'UTC' } }, { token })
      expect(schedule.status).toBe(201)
      expect((await http.api(`/api/analytics/schedules/${(await schedule.json()).id}`, { method: 'DELETE', token })).status).toBe(204)

      // A read-only token reads, and is told which scope a change needs.
      const reader: CreatedApiTokenDTO = await (await createToken(aliceCookie, { name: 'reader', scopes: ['exports:read'] })).json()
      expect(reader.scopes).toEqual(['exports:read'])
      expect((await http.api('/api/analytics/exports', { token: reader.token })).status).toBe(200)
      const exportRefused = await http.postJson('/api/analytics/exports', { dataset_id: MONTHLY, format: 'csv' }, { token: reader.token })
      expect(exportRefused.status).toBe(403)
      expect((await exportRefused.json()).data).toEqual({ required_scope: 'exports:write' })
      expect((await (await http.postJson('/api/analytics/schedules', {}, { token: reader.token })).json()).data).toEqual({ required_scope: 'schedules:write' })

      // A token minted with webhooks:write passes the scope check: a plain-http URL is then refused for itself (400, not 403).
      const hooks: CreatedApiTokenDTO = await (await createToken(aliceCookie, { name: 'hooks', scopes: ['webhooks:write', 'exports:read'] })).json()
      expect(hooks.scopes).toEqual(['exports:read', 'webhooks:write'])
      expect((await http.postJson('/api/webhooks', { url: 'http://hooks.example.com/in', events: ['export.completed'] }, { token: hooks.token })).status).toBe(400)
      expect((await http.api('/api/notifications/settings', { method: 'PATCH', token: hooks.token, ...json({}) })).status).toBe(200)
      // The session has every scope.
      expect((await http.postJson('/api/webhooks', { url: 'http://hooks.example.com/in', events: ['export.completed'] }, asSession(aliceCookie))).status).toBe(400)
      expect((await http.api('/api/notifications/settings', { method: 'PATCH', ...asSession(aliceCookie, { 'content-type': 'application/json' }), body: '{}' })).status).toBe(200)

      const { tokens } = await (await http.api('/api/tokens', asSession(aliceCookie))).json()
      expect(tokens.find((t: { id: string }) => t.id === hooks.id).scopes).toEqual(['exports:read', 'webhooks:write'])
      const minted = (await auditEvents(alice.token)).find(e => e.action === 'token.created' && e.object_id === reader.id)
      expect(minted?.details).toMatchObject({ scopes: ['exports:read'] })
      for (const body of [{ name: 'x', scopes: [] }, { name: 'x', scopes: ['admin'] }, { name: 'x', scopes: 'exports:read' }]) {
        expect((await createToken(aliceCookie, body)).status, JSON.stringify(body)).toBe(400)
      }
      for (const t of [created, reader, hooks]) await http.api(`/api/tokens/${t.id}`, { method: 'DELETE', ...asSession(aliceCookie) })
    })

    it('an expired token is 401 and listed as expired', async () => {
      const created: CreatedApiTokenDTO = await (await createToken(aliceCookie, { name: 'short-lived', expires_in_days: 1 })).json()
      expect((await http.api('/api/auth/me', { token: created.token })).status).toBe(200)
      await sql(suite.environment, `UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [created.id])
      expect((await http.api('/api/auth/me', { token: created.token })).status).toBe(401)
      const { tokens } = await (await http.api('/api/tokens', asSession(aliceCookie))).json()
      expect(tokens.find((t: { id: string }) => t.id === created.id)).toMatchObject({ expired: true })
      await http.api(`/api/tokens/${created.id}`, { method: 'DELETE', ...asSession(aliceCookie) })
    })

    it('validates the request and refuses more than API_TOKENS_MAX_PER_USER usable tokens', async () => {
      for (const body of [{}, { name: '' }, { name: 'x', expires_in_days: 0 }, { name: 'x', expires_in_days: 366 }, { name: 'x', expires_in_days: 1.5 }, { name: 'x', extra: 1 }]) {
        const res = await createToken(bobCookie, body)
        expect(res.status, JSON.stringify(body)).toBe(400)
        expect((await res.json()).data.errors.length).toBeGreaterThan(0)
      }
      // Bob holds the demo's token already.
      const statuses: number[] = []
      for (let i = 0; i < TOKEN_LIMIT; i++) statuses.push((await createToken(bobCookie, { name: `bot ${i}` })).status)
      expect(statuses).toEqual([...Array(TOKEN_LIMIT - 1).fill(201), 400])
      const refused = await createToken(bobCookie, { name: 'one more' })
      expect(refused.status).toBe(400)
      expect((await refused.json()).message).toMatch(/limit is 5/)
    })
  })

  describe('deleting exports', () => {
    it('DELETE of a completed export removes the object at once; the job stays as deleted and its download is 410', async () => {
      const id = await http.createExport(alice.token, { dataset_id: MONTHLY, format: 'csv' })
      const done = await http.waitForExport(alice.token, id)
      expect(done.status).toBe('completed')
      expect(done.file_expires_at).toBe(new Date(Date.parse(done.completed_at!) + 24 * 3600_000).toISOString())
      const key = (await objectKeys(suite.environment)).find(k => k.includes(id))
      expect(key).toBeDefined()

      const res = await http.api(`/api/analytics/exports/${id}`, { method: 'DELETE', token: alice.token })
      expect(res.status).toBe(200)
      const deleted: ExportJobDTO = await res.json()
      expect(deleted).toMatchObject({ job_id: id, status: 'deleted', download_url: null, file_expires_at: null })
      expect(Date.parse(deleted.deleted_at!)).toBeGreaterThan(Date.now() - 60_000)
      expect(await objectKeys(suite.environment)).not.toContain(key)

      expect((await http.api(`/api/analytics/exports/${id}/download`, { token: alice.token })).status).toBe(410)
      expect(await http.getExport(alice.token, id)).toMatchObject({ status: 'deleted', deleted_at: deleted.deleted_at })
      // Deleting again answers the same job; another user's is a 404.
      const again = await http.api(`/api/analytics/exports/${id}`, { method: 'DELETE', token: alice.token })
      expect(again.status).toBe(200)
      expect((await again.json()).deleted_at).toBe(deleted.deleted_at)
      expect((await http.api(`/api/analytics/exports/${id}`, { method: 'DELETE', token: bob.token })).status).toBe(404)
      expect((await http.api('/api/analytics/exports/not-a-uuid', { method: 'DELETE', token: bob.token })).status).toBe(404)

      const events = await auditEvents(alice.token)
      expect(events.find(e => e.action === 'export.deleted' && e.object_id === id)).toBeDefined()
    })

    it('DELETE of a pending export cancels it first, then marks it deleted', async () => {
      const template = await http.createExport(bob.token, { dataset_id: DAILY, format: 'parquet' })
      await http.waitForExport(bob.token, template)
      // A job no worker will claim for an hour: certainly still pending when deleted.
      const [row] = await sql<{ id: string }>(suite.environment, `INSERT INTO jobs (user_id, type, status, metadata, progress, run_at, updated_at)
        SELECT user_id, type, 'pending', metadata - 's3_key', progress, now() + interval '1 hour', now() FROM jobs WHERE id = $1 RETURNING id`, [template])
      const res = await http.api(`/api/analytics/exports/${row!.id}`, { method: 'DELETE', token: bob.token })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ status: 'deleted', download_url: null })
      const actions = (await auditEvents(bob.token)).filter(e => e.object_id === row!.id).map(e => e.action)
      expect(actions.sort()).toEqual(['export.cancelled', 'export.deleted'])
    })
  })

  describe('history filters', () => {
    it('filters by status, dataset and creation time, validates each, and keeps the cursor working', async () => {
      const ids = [
        await http.createExport(bob.token, { dataset_id: TRANSACTIONS, format: 'csv' }),
        await http.createExport(bob.token, { dataset_id: MONTHLY, format: 'csv' }),
        await http.createExport(bob.token, { dataset_id: TRANSACTIONS, format: 'parquet' })
      ]
      for (const id of ids) await http.waitForExport(bob.token, id)
      const since = (await http.getExport(bob.token, ids[0]!)).created_at

      const all = async (query: string) => {
        const seen: ExportJobDTO[] = []
        let cursor: string | null = null
        do {
          const res = await http.api(`/api/analytics/exports?limit=1&${query}${cursor ? `&cursor=${cursor}` : ''}`, { token: bob.token })
          expect(res.status).toBe(200)
          const page: { exports: ExportJobDTO[], next_cursor: string | null } = await res.json()
          seen.push(...page.exports)
          cursor = page.next_cursor
        } while (cursor)
        return seen
      }
      const transactions = await all(`status=completed,failed&dataset_id=${TRANSACTIONS}&created_after=${encodeURIComponent(since)}`)
      expect(transactions.map(j => j.job_id)).toEqual([ids[2], ids[0]])
      expect((await all(`dataset_id=${MONTHLY}&created_after=${encodeURIComponent(since)}`)).map(j => j.job_id)).toEqual([ids[1]])
      expect(await all(`created_before=${encodeURIComponent(since)}&created_after=${encodeURIComponent(new Date(Date.parse(since) - 3600_000).toISOString())}`)).toSatisfy((jobs: ExportJobDTO[]) => jobs.every(j => j.created_at < since))
      expect((await all('status=deleted')).every(j => j.status === 'deleted')).toBe(true)

      for (const [query, field] of [
        ['status=completed,bogus', 'status'],
        ['status=', 'status'],
        ['dataset_id=nope', 'dataset_id'],
        ['created_after=yesterday', 'created_after'],
        ['created_before=2026-13-01T00:00:00Z', 'created_before'],
        [`created_after=${encodeURIComponent(since)}&created_before=${encodeURIComponent(since)}`, 'created_before'],
        ['cursor=garbage', 'cursor']
      ] as const) {
        const res = await http.api(`/api/analytics/exports?${query}`, { token: bob.token })
        expect(res.status, query).toBe(400)
        expect((await res.json()).data.errors.map((e: { field: string }) => e.field), query).toContain(field)
      }
    })
  })

  describe('audit trail', () => {
    it('an export and its download each leave an event with the caller\'s IP, user agent and token', async () => {
      const tokenRow = (await sql<{ id: string }>(suite.environment, 'SELECT id FROM api_tokens WHERE token_hash = $1', [hashToken(alice.token)]))[0]!
      const post = await http.postJson('/api/analytics/exports', { dataset_id: MONTHLY, format: 'csv' }, { token: alice.token, headers: { 'x-forwarded-for': '10.0.0.1, 203.0.113.7', 'user-agent': 'outport-test/1' } })
      expect(post.status).toBe(202)
      const { job_id: id } = await post.json()
      await http.waitForExport(alice.token, id)
      const download = await http.api(`/api/analytics/exports/${id}/download`, { token: alice.token, headers: { 'x-forwarded-for': '203.0.113.8' } })
      expect(download.status).toBe(302)

      const events = (await auditEvents(alice.token)).filter(e => e.object_id === id)
      const created = events.find(e => e.action === 'export.created')
      expect(created).toMatchObject({ ip: '203.0.113.7', user_agent: 'outport-test/1', token_id: tokenRow.id })
      const downloads = events.filter(e => e.action === 'export.downloaded')
      expect(downloads.find(e => e.details?.via === 'api')).toMatchObject({ ip: '203.0.113.8', token_id: tokenRow.id })
      // Only the fetch is a download: the status reads that minted a URL while waiting are not audited.
      expect(downloads).toHaveLength(1)
      expect(downloads.some(e => e.details?.via === 'status')).toBe(false)
    })

    it('records sign-ins (and failed ones against the account) and sign-outs, newest first, only the caller\'s', async () => {
      const bad = await http.postJson('/api/auth/login', { email: alice.email, password: 'wrong' }, { headers: { 'x-forwarded-for': '192.0.2.66' } })
      expect(bad.status).toBe(401)
      const cookie = await signIn(alice)
      const out = await http.api('/api/auth/logout', { method: 'POST', ...asSession(cookie) })
      expect(out.status).toBe(200)

      const events = await auditEvents(alice.token)
      const actions = events.map(e => e.action)
      expect(actions.indexOf('session.signed_out')).toBeLessThan(actions.indexOf('session.signed_in'))
      expect(events.find(e => e.action === 'session.sign_in_failed')).toMatchObject({ ip: '192.0.2.66', details: { reason: 'wrong_password' } })
      const times = events.map(e => e.created_at)
      expect([...times].sort().reverse()).toEqual(times)
      // Bob sees none of alice's.
      const bobs = await auditEvents(bob.token)
      expect(bobs.some(e => events.some(a => a.id === e.id))).toBe(false)
    })

    it('pages with a cursor and refuses a malformed one', async () => {
      const first = await (await http.api('/api/audit?limit=2', { token: alice.token })).json()
      expect(first.events).toHaveLength(2)
      const second = await (await http.api(`/api/audit?limit=2&cursor=${first.next_cursor}`, { token: alice.token })).json()
      expect(second.events[0].created_at <= first.events[1].created_at).toBe(true)
      expect(second.events.map((e: AuditEventDTO) => e.id)).not.toContain(first.events[1].id)
      expect((await http.api('/api/audit?cursor=nope', { token: alice.token })).status).toBe(400)
      expect((await http.api('/api/audit?limit=0', { token: alice.token })).status).toBe(400)
      expect((await http.api('/api/audit')).status).toBe(401)
    })

    it('names what each event concerns (the caller\'s objects only, a deleted one readable) and filters by kind of event', async () => {
      const id = await http.createExport(alice.token, { dataset_id: TRANSACTIONS, format: 'csv' })
      await http.waitForExport(alice.token, id)
      const schedule = await (await http.postJson('/api/analytics/schedules', { dataset_id: MONTHLY, format: 'csv', range: 'all_dates', cadence: { frequency: 'daily', time: '08:00', time_zone: 'UTC' }, name: 'Morning run' }, { token: alice.token })).json() as { id: string }
      const run = await (await http.postJson(`/api/analytics/schedules/${schedule.id}/run`, {}, { token: alice.token })).json() as { job_id: string }
      const token = await (await http.postJson('/api/tokens', { name: 'Short-lived' }, asSession(aliceCookie))).json() as CreatedApiTokenDTO
      await http.api(`/api/tokens/${token.id}`, { method: 'DELETE', ...asSession(aliceCookie) })
      await http.api(`/api/analytics/schedules/${schedule.id}`, { method: 'DELETE', token: alice.token })

      const events = await auditEvents(alice.token)
      const title = DATASETS.find(d => d.id === TRANSACTIONS)!.title
      expect(events.find(e => e.action === 'export.created' && e.object_id === id)!.subjects).toEqual([
        { kind: 'export', id, name: `${title} · CSV`, exists: true },
        { kind: 'dataset', id: TRANSACTIONS, name: title, exists: true }
      ])
      // The schedule is gone: its run still names it, readable and not linkable.
      const ran = events.find(e => e.action === 'export.created' && e.object_id === run.job_id)!
      expect(ran.subjects).toContainEqual({ kind: 'schedule', id: schedule.id, name: `Schedule ${schedule.id.slice(0, 8)}`, exists: false })
      expect(events.find(e => e.action === 'token.revoked' && e.object_id === token.id)!.subjects).toEqual([{ kind: 'token', id: token.id, name: 'Short-lived', exists: true }])
      // Bob's page never names alice's objects, even given their ids.
      expect((await auditEvents(bob.token)).flatMap(e => e.subjects).some(s => s.id === id || s.id === token.id)).toBe(false)

      const only = async (query: string) => (await (await http.api(`/api/audit?limit=100&${query}`, { token: alice.token })).json()).events as AuditEventDTO[]
      expect(new Set((await only('action=token')).map(e => e.action))).toEqual(new Set(['token.created', 'token.revoked']))
      expect(new Set((await only('action=token.revoked,session.signed_in')).map(e => e.action))).toEqual(new Set(['token.revoked', 'session.signed_in']))
      const bad = await http.api('/api/audit?action=export,export.exploded', { token: alice.token })
      expect(bad.status).toBe(400)
      expect(JSON.stringify(await bad.json())).toMatch(/"action".*Unknown event: export\.exploded/)
    })

    it('an audit write that fails never fails the request: it is counted in /metrics and the request goes on', async () => {
      const failures = async () => {
        const text = await (await fetch(`${suite.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text()
        return Number(/^outport_audit_write_failures_total\{action="export\.created"\} (\d+)/m.exec(text)?.[1] ?? 0)
      }
      const before = await failures()
      // The table out of the way: every insert fails as a lost permission or a broken disk would.
      await sql(suite.environment, 'ALTER TABLE audit_events RENAME TO audit_events_away')
      let id: string
      try {
        id = await http.createExport(alice.token, { dataset_id: MONTHLY, format: 'csv' })
      } finally {
        await sql(suite.environment, 'ALTER TABLE audit_events_away RENAME TO audit_events')
      }
      expect(await failures()).toBe(before + 1)
      await http.waitForExport(alice.token, id)
      expect((await auditEvents(alice.token)).some(e => e.action === 'export.created' && e.object_id === id)).toBe(false)
    })
  })
})
