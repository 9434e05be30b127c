import { beforeAll, describe, expect, it } from 'vitest'
import { createApiToken } from '#server/lib/auth/tokens'
import { createDb } from '#server/lib/db/client'
import { downloadTokenKey, signDownloadToken } from '#server/lib/exports/download-token'
import { createUser, disableUser } from '#server/lib/users'
import { DATASETS } from '#server/lib/warehouse/datasets'
import type { TestEnvironment } from '../helpers/environment'
import { FAKE_TOKEN, messageUpdate, startFakeTelegram, type FakeTelegram } from '../helpers/fake-telegram'
import { sql } from '../helpers/faults'
import { client, type RequestOptions } from '../helpers/http'
import { useServerSuite } from '../helpers/suite'

const [TRANSACTIONS, , MONTHLY] = DATASETS.map(d => d.id) as [string, string, string]
const WEBHOOK_SECRET = 'security-webhook-secret_0123456789'
// What a proxy or captive portal in front of the Bot API answers instead of JSON.
const PROXY_PAGE = { status: 403, description: 'proxy', html: '<html><body>Access denied by proxy</body></html>' }

/**
 * Sign-in limits, session cookie, CSRF, security headers and a hostile-input table, on a server of
 * its own (its rate limits must not meet other suites). TRUST_PROXY is on so each case can come
 * from its own client address (X-Forwarded-For). Telegram is on, behind a fake Bot API, so the
 * bot token is among the secrets the log must never show.
 */
describe('security', () => {
  let fake: FakeTelegram
  const suite = useServerSuite({
    name: 'security',
    users: 2,
    transactions: 300,
    seed: 17,
    prepare: async ({ onTeardown }) => {
      fake = await startFakeTelegram()
      onTeardown(() => fake.close())
      // The start-up's setWebhook meets a proxy's HTML page: telegraf's error names the URL.
      fake.fail('setWebhook', PROXY_PAGE)
    },
    env: () => ({
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.url,
      TELEGRAM_WEBHOOK_SECRET: WEBHOOK_SECRET,
      TRUST_PROXY: 'true',
      LOGIN_MAX_FAILURES_PER_EMAIL: '3',
      // The email's ceiling from all addresses as low as the per-address one: the cases below meet
      // its wall at 3. The owner-signs-in-from-elsewhere case runs on a server with the defaults.
      LOGIN_MAX_FAILURES_PER_EMAIL_GLOBAL: '3',
      LOGIN_MAX_ATTEMPTS_PER_IP: '10'
    })
  })
  let http: ReturnType<typeof client>
  let alice: TestEnvironment['demo']['users'][0]
  let bob: TestEnvironment['demo']['users'][0]
  let revokedToken: string
  let aliceJob: string
  let bobJob: string
  let brokenJob: string
  // Every secret the server handed out or was given during the suite; none may reach its log.
  const sessionCookies: string[] = []
  const downloadTokens: string[] = []
  const presignedSecrets: string[] = []
  let ipCounter = 0
  const freshIp = () => `10.9.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`

  beforeAll(async () => {
    ;[alice, bob] = suite.demo.users as [typeof alice, typeof bob]
    http = client(suite.url)
    const db = createDb(suite.environment.database.url, { max: 1 })
    try {
      const { id, token } = await createApiToken(db, alice.user_id, 'old laptop')
      await db.apiToken.update({ where: { id }, data: { revokedAt: new Date() } })
      revokedToken = token
    } finally {
      await db.$disconnect()
    }
    aliceJob = await http.createExport(alice.token, { dataset_id: MONTHLY, format: 'csv' })
    bobJob = await http.createExport(bob.token, { dataset_id: MONTHLY, format: 'csv' })
    brokenJob = await http.createExport(bob.token, { dataset_id: MONTHLY, format: 'csv' })
    for (const [token, id] of [[alice.token, aliceJob], [bob.token, bobJob], [bob.token, brokenJob]] as const) {
      const url = new URL((await http.waitForExport(token, id)).download_url!)
      for (const name of ['X-Amz-Signature', 'X-Amz-Credential']) presignedSecrets.push(url.searchParams.get(name)!)
    }
  })

  const jobCount = async () => (await sql<{ n: number }>(suite.environment, 'SELECT count(*)::int AS n FROM jobs'))[0]!.n
  async function login(body: unknown, ip: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await http.postJson('/api/auth/login', body, { headers: { 'x-forwarded-for': ip, ...headers } })
    for (const cookie of res.headers.getSetCookie()) {
      const value = /^nuxt-session=([^;]+)/.exec(cookie)?.[1]
      if (value) sessionCookies.push(value)
    }
    return res
  }
  async function signIn(user: typeof alice): Promise<string> {
    const res = await login({ email: user.email, password: user.password }, freshIp())
    expect(res.status).toBe(200)
    return res.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))!.split(';')[0]!
  }

  describe('headers and cookie', () => {
    it('sends CSP with frame-ancestors none, nosniff, a referrer policy and no framing on pages and API', async () => {
      for (const path of ['/login', '/api/health']) {
        const res = await http.api(path)
        expect(res.status).toBe(200)
        const csp = res.headers.get('content-security-policy')!
        expect(csp).toContain('frame-ancestors \'none\'')
        expect(csp).toContain('default-src \'self\'')
        expect(csp).toContain('object-src \'none\'')
        expect(res.headers.get('x-content-type-options')).toBe('nosniff')
        expect(res.headers.get('x-frame-options')).toBe('DENY')
        expect(res.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin')
      }
    })

    it('seals the session in an HttpOnly, Secure, SameSite=Lax cookie', async () => {
      const res = await login({ email: bob.email, password: bob.password }, freshIp())
      const cookie = res.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))!
      expect(cookie).toMatch(/; HttpOnly/i)
      expect(cookie).toMatch(/; Secure/i)
      expect(cookie).toMatch(/; SameSite=Lax/i)
      expect(cookie).toMatch(/; Path=\//i)
    })
  })

  describe('CSRF', () => {
    it('refuses cookie-authenticated state changes from another origin; same origin, bearer tokens and non-browser clients pass', async () => {
      const cookie = await signIn(alice)
      const body = { dataset_id: MONTHLY, format: 'csv' }
      const before = await jobCount()
      const evil = await http.postJson('/api/analytics/exports', body, { cookie, headers: { origin: 'https://evil.example' } })
      expect(evil.status).toBe(403)
      expect((await http.postJson('/api/analytics/exports', body, { cookie, headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403)
      expect((await http.postJson('/api/analytics/exports', body, { cookie, headers: { origin: 'null' } })).status).toBe(403)
      expect((await http.api(`/api/analytics/exports/${aliceJob}/cancel`, { method: 'POST', cookie, headers: { origin: 'https://evil.example' } })).status).toBe(403)
      expect((await http.api('/api/auth/logout', { method: 'POST', cookie, headers: { 'sec-fetch-site': 'same-site' } })).status).toBe(403)
      // Login CSRF (signing the victim into the attacker's account) is refused as well.
      expect((await login({ email: bob.email, password: bob.password }, freshIp(), { origin: 'https://evil.example' })).status).toBe(403)
      expect(await jobCount()).toBe(before)

      const own = await http.postJson('/api/analytics/exports', body, { cookie, headers: { 'origin': suite.server.url, 'sec-fetch-site': 'same-origin' } })
      expect(own.status).toBe(202)
      expect((await http.postJson('/api/analytics/exports', body, { cookie, headers: { origin: suite.server.url } })).status).toBe(202)
      expect((await http.postJson('/api/analytics/exports', body, { token: alice.token, headers: { origin: 'https://evil.example' } })).status).toBe(202)
      // Still signed in: the refused logout changed nothing.
      expect((await http.api('/api/auth/me', { cookie })).status).toBe(200)
      await sql(suite.environment, 'UPDATE jobs SET status = \'cancelled\' WHERE status IN (\'pending\', \'running\')')
    })

    it('exempts only requests that authenticate with a bearer token: Basic, Negotiate and unknown tokens get the same-origin check', async () => {
      // A browser behind an SSO proxy attaches these by itself, so they prove nothing about the page.
      const basic = `Basic ${Buffer.from(`${bob.email}:${bob.password}`).toString('base64')}`
      const crossSiteLogin = await login({ email: bob.email, password: bob.password }, freshIp(), { origin: 'https://evil.example', authorization: basic })
      expect(crossSiteLogin.status).toBe(403)
      expect(crossSiteLogin.headers.getSetCookie().some(c => c.startsWith('nuxt-session='))).toBe(false)
      expect((await login({ email: bob.email, password: bob.password }, freshIp(), { 'sec-fetch-site': 'cross-site', 'authorization': 'Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1' })).status).toBe(403)
      expect((await login({ email: bob.email, password: bob.password }, freshIp(), { origin: 'https://evil.example', authorization: `Bearer otp_${'C'.repeat(43)}` })).status).toBe(403)

      const cookie = await signIn(alice)
      const body = { dataset_id: MONTHLY, format: 'csv' }
      const before = await jobCount()
      expect((await http.postJson('/api/analytics/exports', body, { cookie, headers: { origin: 'https://evil.example', authorization: basic } })).status).toBe(403)
      expect((await http.postJson('/api/analytics/exports', body, { cookie, headers: { 'sec-fetch-site': 'cross-site', 'authorization': 'Bearer not-a-token' } })).status).toBe(403)
      expect(await jobCount()).toBe(before)
      // Not an API token either: the request is judged by its cookie.
      expect((await http.api('/api/auth/me', { cookie, headers: { authorization: basic } })).status).toBe(200)
      expect((await http.api('/api/auth/me', { headers: { authorization: basic } })).status).toBe(401)
    })
  })

  describe('sessions', () => {
    const sameOrigin = { 'sec-fetch-site': 'same-origin' }
    const me = async (options: RequestOptions) => (await http.api('/api/auth/me', options)).status

    it('gives the session cookie a lifetime (SESSION_MAX_AGE_HOURS, 168 h by default)', async () => {
      const res = await login({ email: bob.email, password: bob.password }, freshIp())
      const cookie = res.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))!
      // h3 writes the lifetime as Expires (now + SESSION_MAX_AGE_HOURS); the seal itself expires then too.
      const expires = Date.parse(/; Expires=([^;]+)/i.exec(cookie)?.[1] ?? '')
      expect(Math.abs(expires - (Date.now() + 168 * 3600_000))).toBeLessThan(5 * 60_000)
    })

    it('refuses a cookie replayed after sign-out', async () => {
      const cookie = await signIn(bob)
      expect(await me({ cookie })).toBe(200)
      expect((await http.api('/api/auth/logout', { method: 'POST', cookie, headers: sameOrigin })).status).toBe(200)
      expect(await me({ cookie })).toBe(401)
      // The app's own "am I signed in?" probe agrees.
      expect((await http.api('/api/_auth/session', { cookie })).status).toBe(401)
      expect((await http.postJson('/api/analytics/exports', { dataset_id: MONTHLY, format: 'csv' }, { cookie, headers: sameOrigin })).status).toBe(401)
    })

    it('signs out everywhere: every session of the user ends; API tokens and other users are unaffected', async () => {
      const [laptop, phone, other] = [await signIn(bob), await signIn(bob), await signIn(alice)]
      const res = await http.api('/api/auth/logout-all', { method: 'POST', cookie: laptop, headers: sameOrigin })
      expect(res.status).toBe(200)
      expect((await res.json()).sessions_ended).toBeGreaterThanOrEqual(2)
      expect(await me({ cookie: laptop })).toBe(401)
      expect(await me({ cookie: phone })).toBe(401)
      expect(await me({ cookie: other })).toBe(200)
      expect(await me({ token: bob.token })).toBe(200)
      // Cross-site, it is refused like any cookie-authenticated change.
      expect((await http.api('/api/auth/logout-all', { method: 'POST', cookie: other, headers: { origin: 'https://evil.example' } })).status).toBe(403)
      expect(await me({ cookie: other })).toBe(200)
      expect((await http.api('/api/auth/logout-all', { method: 'POST' })).status).toBe(401)
    })

    it('ends a session when it expires, even though its cookie is still sealed', async () => {
      const cookie = await signIn(bob)
      expect(await me({ cookie })).toBe(200)
      await sql(suite.environment, `UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = '${bob.user_id}'`)
      expect(await me({ cookie })).toBe(401)
    })

    it('stops a disabled or deleted user\'s sessions and tokens at once', async () => {
      const db = createDb(suite.environment.database.url, { max: 2 })
      try {
        const [carol, dave] = await Promise.all(['carol', 'dave'].map(name => createUser(db, { email: `${name}@example.com`, password: `${name}-password` })))
        const [carolToken, daveToken] = await Promise.all([carol!, dave!].map(async user => (await createApiToken(db, user.id, 'script')).token))
        const session = async (name: string) => {
          const res = await login({ email: `${name}@example.com`, password: `${name}-password` }, freshIp())
          expect(res.status).toBe(200)
          return res.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))!.split(';')[0]!
        }
        const [carolCookie, daveCookie] = [await session('carol'), await session('dave')]
        expect([await me({ cookie: carolCookie }), await me({ token: carolToken }), await me({ cookie: daveCookie }), await me({ token: daveToken })]).toEqual([200, 200, 200, 200])

        expect(await disableUser(db, 'carol@example.com')).toMatchObject({ sessionsEnded: 1 })
        expect(await me({ cookie: carolCookie })).toBe(401)
        expect(await me({ token: carolToken })).toBe(401)
        expect((await login({ email: 'carol@example.com', password: 'carol-password' }, freshIp())).status).toBe(401)

        await db.user.delete({ where: { id: dave!.id } })
        expect(await me({ cookie: daveCookie })).toBe(401)
        expect(await me({ token: daveToken })).toBe(401)
      } finally {
        await db.$disconnect()
      }
    })
  })

  describe('sign-in rate limits', () => {
    it('locks an email after 3 failures, from any address, with Retry-After; other users are unaffected', async () => {
      const ip = freshIp()
      for (let i = 0; i < 3; i++) expect((await login({ email: alice.email, password: `wrong-${i}` }, ip)).status).toBe(401)
      const locked = await login({ email: alice.email, password: alice.password }, ip)
      expect(locked.status).toBe(429)
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800)
      expect((await locked.json()).message).toMatch(/Too many sign-in attempts/)
      // The right password from elsewhere does not unlock it either.
      expect((await login({ email: alice.email.toUpperCase(), password: alice.password }, freshIp())).status).toBe(429)
      expect((await login({ email: bob.email, password: bob.password }, ip)).status).toBe(200)
      // API tokens are not sign-ins: the locked user's automation keeps working.
      expect((await http.api('/api/auth/me', { token: alice.token })).status).toBe(200)
    })

    it('limits attempts per client address whatever the emails', async () => {
      const ip = freshIp()
      for (let i = 0; i < 10; i++) expect((await login({ email: `nobody${i}@example.com`, password: 'x' }, ip)).status).toBe(401)
      expect((await login({ email: bob.email, password: bob.password }, ip)).status).toBe(429)
      expect((await login({ email: bob.email, password: bob.password }, freshIp())).status).toBe(200)
      // Eleven scrypt hashes at N=2^17 (~0.4 s each on an idle core, several seconds on a busy one).
    }, 240_000)

    it('ten wrong passwords for an email from one address lock that address out, not the owner signing in from another (the default limits)', async () => {
      const defaults = Object.fromEntries(Object.entries(suite.env).filter(([name]) => !name.startsWith('LOGIN_')))
      const server = await suite.startServer({ ...defaults, OUTPORT_ROLE: 'web' })
      const db = createDb(suite.environment.database.url, { max: 1 })
      try {
        await createUser(db, { email: 'erin@example.com', password: 'erin-password' })
        const elsewhere = client(server.url)
        const from = (ip: string, password: string) => elsewhere.postJson('/api/auth/login', { email: 'erin@example.com', password }, { headers: { 'x-forwarded-for': ip } })
        const attacker = freshIp()
        for (let i = 0; i < 10; i++) expect((await from(attacker, `guess-${i}`)).status).toBe(401)
        const locked = await from(attacker, 'erin-password')
        expect(locked.status).toBe(429)
        expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800)
        expect((await from(freshIp(), 'erin-password')).status).toBe(200)
      } finally {
        await db.$disconnect()
        await server.stop()
      }
      // Eleven scrypt hashes at N=2^17, as above.
    }, 240_000)

    it('holds the per-email limit under 40 parallel wrong passwords spread over two web processes', async () => {
      // A second process on the same database and configuration, as with OUTPORT_ROLE=web × N
      // behind a load balancer (with its own limits, it would refuse later than the first).
      const second = await suite.startServer({ ...suite.env, OUTPORT_ROLE: 'web' })
      try {
        const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) =>
          fetch(`${i % 2 ? second.url : suite.server.url}/api/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-forwarded-for': freshIp() },
            body: JSON.stringify({ email: bob.email, password: `wrong-${i}` })
          }).then(res => res.status)))
        const unauthorized = statuses.filter(s => s === 401).length
        expect(unauthorized).toBeGreaterThan(0)
        expect(unauthorized).toBeLessThanOrEqual(3)
        expect(statuses.filter(s => s === 429).length).toBe(40 - unauthorized)
      } finally {
        await second.stop()
      }
    })
  })

  describe('hostile input', () => {
    type Case = [name: string, path: () => string, init: () => RequestOptions & { json?: unknown }]
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
    const SQL = '\'; DROP TABLE jobs; --'
    const big = 'A'.repeat(100_000)
    // Ids resolve when the case runs: the jobs exist only after beforeAll.
    const ids: Record<string, () => string> = {
      'path traversal': () => '..%2F..%2F..%2Fetc%2Fpasswd',
      'SQL': () => encodeURIComponent('1\' OR \'1\'=\'1'),
      'huge': () => 'a'.repeat(4000),
      'NUL': () => '%00',
      'unicode': () => encodeURIComponent('ü'.repeat(10)),
      'other user\'s job': () => bobJob,
      'other user\'s job, upper case': () => bobJob.toUpperCase(),
      'unknown job': () => '00000000-0000-4000-8000-000000000000'
    }
    const cases: Case[] = []
    for (const [name, id] of Object.entries(ids)) {
      cases.push([`status: ${name}`, () => `/api/analytics/exports/${id()}`, () => ({ token: alice.token })])
      cases.push([`download: ${name}`, () => `/api/analytics/exports/${id()}/download`, () => ({ token: alice.token })])
      cases.push([`cancel: ${name}`, () => `/api/analytics/exports/${id()}/cancel`, () => ({ method: 'POST', token: alice.token })])
    }
    // Bodies are built when the case runs (the users exist only after beforeAll).
    const create = (json: () => unknown, extra: RequestOptions = {}) => () => ({ method: 'POST', token: alice.token, json: json(), ...extra })
    const valid = { dataset_id: TRANSACTIONS, format: 'csv' }
    cases.push(
      ['create: malformed JSON', () => '/api/analytics/exports', create(() => '{"dataset_id": "x",')],
      ['create: JSON null', () => '/api/analytics/exports', create(() => 'null')],
      ['create: empty body', () => '/api/analytics/exports', create(() => '')],
      ['create: a number', () => '/api/analytics/exports', create(() => '42')],
      ['create: wrong types', () => '/api/analytics/exports', create(() => ({ dataset_id: 7, format: ['csv'], start_date: 20240101, account_ids: { a: 1 } }))],
      ['create: nested objects', () => '/api/analytics/exports', create(() => ({ ...valid, tag_ids: [{ $ne: null }] }))],
      ['create: prototype pollution', () => '/api/analytics/exports', create(() => `{"dataset_id":"${TRANSACTIONS}","format":"csv","__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}`)],
      ['create: SQL in every field', () => '/api/analytics/exports', create(() => ({ dataset_id: SQL, format: SQL, start_date: SQL, end_date: SQL, account_ids: [SQL], tag_ids: [SQL] }))],
      ['create: huge strings', () => '/api/analytics/exports', create(() => ({ dataset_id: big, format: 'csv' }))],
      ['create: body over the size limit', () => '/api/analytics/exports', create(() => ({ ...valid, padding: 'x'.repeat(300_000) }))],
      ['create: year 0 and 99999 dates', () => '/api/analytics/exports', create(() => ({ ...valid, start_date: '0000-01-01', end_date: '99999-01-01' }))],
      ['create: 2,000 ids', () => '/api/analytics/exports', create(() => ({ ...valid, account_ids: Array.from({ length: 2000 }, () => alice.account_ids[0]) }))],
      ['create: other user\'s account', () => '/api/analytics/exports', create(() => ({ ...valid, account_ids: [bob.account_ids[0]] }))],
      ['create: form-encoded', () => '/api/analytics/exports', create(() => 'dataset_id=x&format=csv', { headers: { 'content-type': 'application/x-www-form-urlencoded' } })],
      ['create: bad Idempotency-Key', () => '/api/analytics/exports', create(() => valid, { headers: { 'idempotency-key': 'a b' } })],
      ['create: no credentials', () => '/api/analytics/exports', () => ({ method: 'POST', json: valid })],
      ['create: forged token', () => '/api/analytics/exports', () => ({ method: 'POST', json: valid, headers: bearer('otp_' + 'A'.repeat(43)) })],
      ['create: revoked token', () => '/api/analytics/exports', () => ({ method: 'POST', json: valid, headers: bearer(revokedToken) })],
      ['create: malformed authorization', () => '/api/analytics/exports', () => ({ method: 'POST', json: valid, headers: { authorization: `Basic ${big.slice(0, 5000)}` } })],
      ['create: empty bearer', () => '/api/analytics/exports', () => ({ method: 'POST', json: valid, headers: { authorization: 'Bearer ' } })],
      ['create: forged cookie', () => '/api/analytics/exports', () => ({ method: 'POST', json: valid, cookie: 'nuxt-session=Fe26.2**forged**cookie' })],
      ['create: garbage cookie', () => '/api/analytics/exports', () => ({ method: 'POST', json: valid, cookie: `nuxt-session=${big.slice(0, 3000)}` })],
      ['list: negative limit', () => '/api/analytics/exports?limit=-1', () => ({ token: alice.token })],
      ['list: huge limit', () => '/api/analytics/exports?limit=1e12', () => ({ token: alice.token })],
      ['list: text limit', () => '/api/analytics/exports?limit=ten', () => ({ token: alice.token })],
      ['list: forged cursor', () => `/api/analytics/exports?cursor=${Buffer.from(`2020-01-01|${SQL}`).toString('base64url')}`, () => ({ token: alice.token })],
      ['list: huge cursor', () => `/api/analytics/exports?cursor=${'a'.repeat(5000)}`, () => ({ token: alice.token })],
      ['list: repeated parameters', () => '/api/analytics/exports?limit=1&limit=2', () => ({ token: alice.token })],
      ['list: unknown parameter', () => '/api/analytics/exports?user_id=' + bob.user_id, () => ({ token: alice.token })],
      ['login: malformed JSON', () => '/api/auth/login', () => ({ method: 'POST', json: '{"email":' })],
      ['login: wrong types', () => '/api/auth/login', () => ({ method: 'POST', json: { email: ['a@b.c'], password: 1 } })],
      ['login: SQL as email', () => '/api/auth/login', () => ({ method: 'POST', json: { email: `a@b.c${SQL}`, password: 'x' } })],
      ['login: huge password', () => '/api/auth/login', () => ({ method: 'POST', json: { email: alice.email, password: big } })],
      ['login: extra fields', () => '/api/auth/login', () => ({ method: 'POST', json: { email: alice.email, password: 'x', role: 'admin' } })]
    )
    const readPaths: Record<string, () => string> = {
      'accounts': () => '/api/accounts',
      'tags': () => '/api/tags',
      'me': () => '/api/auth/me',
      'datasets': () => '/api/analytics/datasets',
      'exports list': () => '/api/analytics/exports',
      'export status': () => `/api/analytics/exports/${aliceJob}`,
      'export download': () => `/api/analytics/exports/${aliceJob}/download`
    }
    for (const [name, path] of Object.entries(readPaths)) {
      cases.push([`${name}: no credentials`, path, () => ({})])
      cases.push([`${name}: forged token`, path, () => ({ headers: bearer(`otp_${'B'.repeat(43)}`) })])
      cases.push([`${name}: forged cookie`, path, () => ({ cookie: 'nuxt-session=Fe26.2*1*abc*def*ghi**0*jkl' })])
    }

    it.each(cases)('%s → a clean 4xx, nothing created', async (_name, path, init) => {
      const { json, ...options } = init()
      const before = await jobCount()
      const headers = { 'x-forwarded-for': freshIp(), ...(options.headers as Record<string, string>) }
      const res = json === undefined
        ? await http.api(path(), { ...options, headers })
        : await http.postJson(path(), json, { ...options, headers })
      expect(res.status, await res.clone().text()).toBeGreaterThanOrEqual(400)
      expect(res.status).toBeLessThan(500)
      const text = await res.text()
      // Errors never echo a stack or internals.
      expect(text).not.toMatch(/at .*\.(m?js|ts):\d+|prisma|duckdb|stack/i)
      expect(await jobCount()).toBe(before)
    })
  })

  /**
   * Secrets in URLs and error messages: each case is provoked for real, the log line is shown to
   * exist, and the secret is shown not to be in it (server/lib/redact.ts, applied to every line by
   * server/plugins/00-log-redaction.ts).
   */
  describe('the log', () => {
    const lines = (pattern: RegExp) => suite.server.output().split('\n').filter(line => pattern.test(line))

    it('a non-JSON answer from the Bot API is logged without the bot token', async () => {
      await expect.poll(() => lines(/Telegram webhook not set/), { timeout: 15_000 }).toHaveLength(1)
      // An update whose getMe meets the proxy page as well.
      fake.fail('getMe', PROXY_PAGE)
      const res = await http.postJson('/api/telegram/webhook', messageUpdate(4242, '/start'), { headers: { 'x-telegram-bot-api-secret-token': WEBHOOK_SECRET } })
      expect(res.status).toBe(200)
      await expect.poll(() => lines(/Telegram update \d+ not handled/), { timeout: 15_000 }).toHaveLength(1)
      for (const line of [...lines(/Telegram webhook not set/), ...lines(/Telegram update \d+ not handled/)]) {
        // telegraf's message names the URL: the proof the case was provoked.
        expect(line).toMatch(/invalid json response body at http:\/\/127\.0\.0\.1:\d+\/bot\[REDACTED\]\/(setWebhook|getMe)/)
        expect(line).not.toContain(FAKE_TOKEN.split(':')[1])
      }
    })

    it('an unhandled 500 on a signed download link is logged without its token or a presigned URL\'s signature', async () => {
      // A row the route cannot read (its metadata gone) fails the request with an unhandled error,
      // which Nitro logs with the full URL.
      await sql(suite.environment, 'UPDATE jobs SET metadata = NULL WHERE id = $1', [brokenJob])
      const token = signDownloadToken(downloadTokenKey(suite.environment.env.NUXT_SESSION_PASSWORD!), brokenJob, new Date(Date.now() + 3600_000))
      downloadTokens.push(token)
      // A presigned URL's query passed along (as a client that bounces one through the app would).
      const presigned = new URL((await http.getExport(alice.token, aliceJob)).download_url!)
      presignedSecrets.push(presigned.searchParams.get('X-Amz-Signature')!)
      const res = await http.api(`/exports/${brokenJob}/download?token=${token}&${presigned.searchParams.toString()}`)
      expect(res.status).toBe(500)
      await expect.poll(() => lines(new RegExp(`\\[unhandled\\].*/exports/${brokenJob}/download`)), { timeout: 10_000 }).toHaveLength(1)
      const [line] = lines(new RegExp(`/exports/${brokenJob}/download`))
      expect(line).toContain(`/exports/${brokenJob}/download?token=[REDACTED]`)
      expect(line).toContain('X-Amz-Signature=[REDACTED]')
      expect(line).not.toContain(token.split('.')[1])
    })

    it('never shows a password, API token, download-link token, presigned signature, bot token or session cookie', () => {
      expect(sessionCookies.length).toBeGreaterThan(3)
      expect(downloadTokens).toHaveLength(1)
      expect(presignedSecrets.length).toBeGreaterThan(4)
      const output = suite.server.output()
      const secrets = [
        alice.password, bob.password, alice.token, bob.token, revokedToken, 'otp_' + 'A'.repeat(43),
        ...downloadTokens, ...downloadTokens.map(t => t.split('.')[1]!),
        ...presignedSecrets, ...presignedSecrets.map(encodeURIComponent),
        FAKE_TOKEN, FAKE_TOKEN.split(':')[1]!,
        ...sessionCookies
      ]
      for (const secret of secrets) expect(output).not.toContain(secret)
    })
  })
})
