import Ajv2020 from 'ajv/dist/2020'
import addFormats from 'ajv-formats'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import * as examples from '#server/lib/openapi/examples'
import type { TestEnvironment } from '../helpers/environment'
import { sql } from '../helpers/faults'
import { client } from '../helpers/http'
import { useServerSuite } from '../helpers/suite'

type Json = Record<string, unknown>
interface Operation { parameters?: Array<{ name: string, in: string }>, requestBody?: { content: Record<string, { example?: unknown }> }, responses: Record<string, { content?: Record<string, unknown> }>, security?: unknown[] }
interface Call { method: string, path: string, query?: string, auth?: 'alice' | 'bob' | 'none', body?: string, contentType?: string }

const METRICS_TOKEN = 'contract-metrics'
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000'
const UNPAIRED = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const SEED = 30
const RUNS = 25
// Rejected requests to these must leave the caller's rows as they were.
const CREATES: Record<string, string> = {
  'POST /api/analytics/exports': 'jobs',
  'POST /api/analytics/schedules': 'schedules',
  'POST /api/webhooks': 'webhook_endpoints',
  'POST /api/destinations': 'destinations',
  'POST /api/tokens': 'api_tokens'
}

/**
 * The API held to its own OpenAPI document from outside: every documented operation called for
 * each status it can reach, and with seeded property-based bodies, paths and queries; every answer
 * validated against the document's schemas with a JSON Schema 2020-12 validator (not with the zod
 * schemas the document is built from). New routes join by being documented.
 */
describe('the API contract', () => {
  const suite = useServerSuite({
    name: 'contract',
    users: 2,
    transactions: 200,
    seed: SEED,
    // Webhooks to a local address can be saved (never delivered anywhere); sign-in is fuzzed.
    env: { WEBHOOK_ALLOW_HOSTS: '127.0.0.1', METRICS_TOKEN, LOGIN_MAX_ATTEMPTS_PER_IP: '100000', LOGIN_MAX_FAILURES_PER_EMAIL_GLOBAL: '100000', LOGIN_MAX_FAILURES_PER_EMAIL: '100000', EXPORT_MAX_ACTIVE_PER_USER: '100' }
  })
  let http: ReturnType<typeof client>
  let document: { paths: Record<string, Record<string, Operation>>, components: { schemas: Record<string, { properties: Record<string, { properties?: Json }> }> } }
  let ajv: Ajv2020
  let alice: TestEnvironment['demo']['users'][0]
  let bob: TestEnvironment['demo']['users'][0]
  const cookies = { alice: '', bob: '' }
  const ids: Record<string, string> = {}

  const operations = () => Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path, op })))

  async function signIn(user: typeof alice): Promise<string> {
    const res = await http.postJson('/api/auth/login', { email: user.email, password: user.password })
    expect(res.status).toBe(200)
    return res.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))!.split(';')[0]!
  }

  /** The sign-in example's email and password. */
  let login: { email: string, password: string }

  /** The documented example with alice's credentials, the demo's ids and a local webhook host in place of the document's. */
  function real(value: unknown): unknown {
    const swaps: Array<[string, string]> = [
      [examples.ACCOUNT_ID, alice.account_ids[0]!], [examples.TAG_ID, alice.tag_ids[0]!],
      [examples.JOB_ID, ids.job!], [examples.SCHEDULE_ID, ids.schedule!], [examples.WEBHOOK_ID, ids.webhook!], [examples.DESTINATION_ID, ids.destination!],
      [examples.TOKEN_ID, ids.token!], [examples.DELIVERY_ID, ids.delivery!], ['hooks.example.com', '127.0.0.1'],
      ...Object.entries(login).map(([field, text]) => [text, alice[field as keyof typeof login]] as [string, string])
    ]
    let text = JSON.stringify(value)
    for (const [from, to] of swaps) text = text.replaceAll(from, to)
    return JSON.parse(text)
  }

  /** The documented path with the fixture's ids (whose by `id`: the path's resource). */
  function fill(path: string, params: Record<string, string> = {}): string {
    const resource = path.startsWith('/api/analytics/schedules')
      ? 'schedule'
      : path.startsWith('/api/webhooks') ? 'webhook' : path.startsWith('/api/tokens') ? 'token' : path.startsWith('/api/destinations') ? 'destination' : 'job'
    // A watermark is reset on an incremental schedule; a backfill is the fixture schedule's.
    const id = path.endsWith('/reset') ? ids.incremental! : ids[resource]!
    return path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? (name === 'id' ? id : name === 'backfill_id' ? ids.backfill! : ids.delivery!)))
  }

  async function call({ method, path, query, auth = 'alice', body, contentType = 'application/json' }: Call) {
    const session = path.startsWith('/api/tokens')
    // /metrics has its own token, which a user's would replace.
    const user = auth === 'none' || path === '/metrics' ? undefined : auth === 'alice' ? alice : bob
    const headers: Record<string, string> = { 'accept': 'text/html,application/xhtml+xml,*/*;q=0.8', 'sec-fetch-site': 'same-origin' }
    if (body !== undefined) headers['content-type'] = contentType
    if (path === '/metrics') headers.authorization = `Bearer ${METRICS_TOKEN}`
    const res = await http.api(`${path}${query ? `?${query}` : ''}`, {
      method,
      headers,
      body,
      ...(user && (session ? { cookie: cookies[auth as 'alice' | 'bob'] } : { token: user.token }))
    })
    const text = res.headers.get('content-type')?.startsWith('text/event-stream') ? await firstEvent(res) : await res.text()
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Json }
  }

  /** An event stream never ends by itself: its first block (up to a blank line), then the client leaves. */
  async function firstEvent(res: Response): Promise<string> {
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    while (!text.includes('\n\n')) {
      const { done, value } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
    await reader.cancel()
    return text
  }

  /** The answer is one the document lists for the operation, and its body matches the listed schema. */
  function expectDocumented(key: string, op: Operation, res: Awaited<ReturnType<typeof call>>) {
    const where = `${key} → ${res.status} ${res.text.slice(0, 300)}`
    // Readiness answers 503 by design; anything else in the 5xx range is a bug.
    if (!key.includes(' /api/health')) expect(res.status, where).toBeLessThan(500)
    expect(Object.keys(op.responses), where).toContain(String(res.status))
    const mediaType = res.headers.get('content-type')?.split(';')[0]
    const content = op.responses[String(res.status)]!.content
    if (!content) return
    expect(Object.keys(content).map(t => t.split(';')[0]), where).toContain(mediaType)
    if (mediaType !== 'application/json') return
    const [method, path] = key.split(' ') as [string, string]
    const pointer = ['paths', path, method.toLowerCase(), 'responses', String(res.status), 'content', Object.keys(content).find(t => t.startsWith('application/json'))!, 'schema']
      .map(token => encodeURIComponent(token.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/')
    const validate = ajv.getSchema(`openapi.json#/${pointer}`)!
    expect(validate(res.json()), `${where}\n${JSON.stringify(validate.errors)}`).toBe(true)
    if (res.status >= 400) expectErrorShape(where, res.json())
  }

  /** Only the Error schema's fields, at the top and in `data`: nothing a client was not told of. */
  function expectErrorShape(where: string, body: Json) {
    const error = document.components.schemas.Error!
    expect(Object.keys(body).filter(k => !(k in error.properties)), where).toEqual([])
    const data = error.properties.data!.properties!
    expect(Object.keys((body.data ?? {}) as Json).filter(k => !(k in data)), where).toEqual([])
    expect(body.url, where).toMatch(/^\/[^/]/)
  }

  function expectError(res: Awaited<ReturnType<typeof call>>, status: number) {
    const where = `${res.status} ${res.text.slice(0, 300)}`
    expect(res.status, where).toBe(status)
    expect(res.headers.get('content-type'), where).toMatch(/^application\/json/)
    const validate = ajv.getSchema('openapi.json#/components/schemas/Error')!
    expect(validate(res.json()), `${where}\n${JSON.stringify(validate.errors)}`).toBe(true)
    expectErrorShape(where, res.json())
  }

  async function rows(table: string): Promise<number> {
    const [row] = await sql<{ n: string }>(suite.environment, `SELECT count(*) AS n FROM ${table} WHERE user_id = $1`, [alice.user_id])
    return Number(row!.n)
  }

  /** A fresh resource of alice's, for the operations that end one. */
  async function fresh(path: string): Promise<Record<string, string>> {
    if (path.startsWith('/api/analytics/schedules/{id}/backfills/')) {
      const id = (await create('POST /api/analytics/schedules')).id as string
      return { id, backfill_id: (await create('POST /api/analytics/schedules/{id}/backfill', { id })).backfill_id as string }
    }
    if (path.startsWith('/api/analytics/schedules')) return { id: (await create('POST /api/analytics/schedules')).id as string }
    if (path.startsWith('/api/webhooks')) return { id: (await create('POST /api/webhooks')).id as string }
    if (path.startsWith('/api/tokens')) return { id: (await create('POST /api/tokens')).id as string }
    if (path.startsWith('/api/destinations')) return { id: (await create('POST /api/destinations')).id as string }
    return { id: (await create('POST /api/analytics/exports')).job_id as string }
  }

  async function create(key: string, params: Record<string, string> = {}, over: object = {}): Promise<Json> {
    const [method, path] = key.split(' ') as [string, string]
    const op = document.paths[path]![method.toLowerCase()]!
    const example = real(op.requestBody!.content['application/json']!.example) as object
    const res = await call({ method, path: fill(path, params), body: JSON.stringify({ ...example, ...over }) })
    expect(res.status, `${key}: ${res.text}`).toBeLessThan(300)
    return res.json()
  }

  beforeAll(async () => {
    ;[alice, bob] = suite.demo.users as [typeof alice, typeof bob]
    http = client(suite.url)
    document = await (await http.api('/api/openapi.json')).json()
    ajv = new Ajv2020({ strict: false, allErrors: true })
    addFormats(ajv)
    ajv.addSchema(document, 'openapi.json')
    login = document.paths['/api/auth/login']!.post!.requestBody!.content['application/json']!.example as typeof login
    cookies.alice = await signIn(alice)
    cookies.bob = await signIn(bob)
    const job = await create('POST /api/analytics/exports')
    ids.job = job.job_id as string
    await http.waitForExport(alice.token, ids.job)
    ids.schedule = (await create('POST /api/analytics/schedules')).id as string
    ids.incremental = (await create('POST /api/analytics/schedules', {}, { range: { type: 'since_last_run', initial: 'all' } })).id as string
    ids.backfill = (await create('POST /api/analytics/schedules/{id}/backfill', { id: ids.schedule })).backfill_id as string
    ids.webhook = (await create('POST /api/webhooks')).id as string
    ids.token = (await create('POST /api/tokens')).id as string
    ids.destination = (await create('POST /api/destinations')).id as string
    const ping = await call({ method: 'POST', path: `/api/webhooks/${ids.webhook}/test` })
    ids.delivery = ping.json().id as string
  })

  it('documents operations to call', () => {
    expect(operations().length).toBeGreaterThan(40)
  })

  describe('each operation with its documented example', () => {
    // Not reachable on this server: Telegram is off (documented as 404); the test ping to a closed
    // port is still being retried, so its redelivery is refused (documented as 409).
    const OFF = new Set(['POST /api/telegram/link', 'POST /api/telegram/webhook', 'POST /api/webhooks/{id}/deliveries/{delivery_id}/redeliver'])
    // Operations that end the resource they name get one of their own.
    const ENDS = (key: string) => key.includes('{id}') && (key.startsWith('DELETE') || key.endsWith('/cancel'))

    it('answers a documented success', async () => {
      for (const { key, method, path, op } of operations()) {
        const example = op.requestBody?.content['application/json']?.example
        const params = ENDS(key) ? await fresh(path) : {}
        const query = path === '/exports/{id}/download' ? 'token=not-a-token' : undefined
        const res = await call({ method, path: fill(path, params), query, body: example === undefined ? undefined : JSON.stringify(real(example)) })
        expectDocumented(key, op, res)
        if (!OFF.has(key) && path !== '/exports/{id}/download') expect(res.status, `${key}: ${res.text}`).toBeLessThan(400)
        // Signing out everywhere ended alice's session: the next calls need a new one.
        if (key.startsWith('POST /api/auth/logout')) cookies.alice = await signIn(alice)
      }
    })
  })

  describe('each documented error', () => {
    it('400: a body or query that is not what the operation takes', async () => {
      for (const { key, method, path, op } of operations().filter(o => o.op.responses[400])) {
        const invalid = op.requestBody
          ? await call({ method, path: fill(path), body: '{"no_such_field":[1]}' })
          : await call({ method, path: fill(path), query: 'limit=abc&status=nope' })
        expectDocumented(key, op, invalid)
        expect(invalid.status, key).toBe(400)
      }
      expectError(await call({ method: 'POST', path: '/api/analytics/exports', body: '{"format":1}' }), 400)
    })

    it('401: no credentials, with a browser\'s Accept header', async () => {
      for (const { key, method, path, op } of operations().filter(o => o.op.responses[401] && o.path.startsWith('/api/'))) {
        const example = op.requestBody?.content['application/json']?.example
        // The example as documented: its sign-in is no user's.
        const res = await call({ method, path: fill(path), auth: 'none', body: example === undefined ? undefined : JSON.stringify(example) })
        expectDocumented(key, op, res)
        expect(res.status, key).toBe(path === '/api/telegram/webhook' ? 404 : 401)
      }
    })

    it('404: an unknown id, and another user\'s', async () => {
      for (const { key, method, path, op } of operations().filter(o => o.path.includes('{id}') && o.path.startsWith('/api/'))) {
        const example = op.requestBody?.content['application/json']?.example
        const body = example === undefined ? undefined : JSON.stringify(real(example))
        for (const res of [await call({ method, path: fill(path, { id: UNKNOWN_ID }), body }), await call({ method, path: fill(path), auth: 'bob', body })]) {
          expectDocumented(key, op, res)
          expect(res.status, `${key}: ${res.text}`).toBe(404)
        }
      }
      for (const path of ['/api', '/api/', '/api/nope']) expectError(await call({ method: 'GET', path }), 404)
    })

    it('404: a well-formed dataset id that is no dataset', async () => {
      for (const key of ['POST /api/analytics/exports', 'POST /api/analytics/exports/preview', 'POST /api/analytics/schedules']) {
        const [method, path] = key.split(' ') as [string, string]
        const op = document.paths[path]!.post!
        const body = JSON.stringify({ ...real(op.requestBody!.content['application/json']!.example) as Json, dataset_id: UNKNOWN_ID })
        const res = await call({ method, path, body })
        expectDocumented(key, op, res)
        expect(res.status, res.text).toBe(404)
      }
    })

    it('405 with Allow: a documented path with a method it does not have', async () => {
      for (const [path, item] of Object.entries(document.paths).filter(([p]) => p.startsWith('/api/'))) {
        const allowed = Object.keys(item).map(m => m.toUpperCase())
        for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter(m => !allowed.includes(m))) {
          const res = await call({ method, path: fill(path), auth: 'none', body: method === 'GET' ? undefined : '{}' })
          expectError(res, 405)
          expect(res.headers.get('allow')!.split(', ').sort(), `${method} ${path}`).toEqual(allowed.sort())
        }
      }
    })

    it('415: a JSON operation sent anything but application/json', async () => {
      for (const { key, method, path, op } of operations().filter(o => o.op.requestBody)) {
        const body = JSON.stringify(real(op.requestBody!.content['application/json']!.example))
        for (const contentType of ['multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', 'text/plain']) {
          const res = await call({ method, path: fill(path), body, contentType })
          expectDocumented(key, op, res)
          expect(res.status, key).toBe(415)
        }
      }
    })
  })

  describe('property-based: seeded fuzz of every JSON body, path and query', () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('a\u0000b', 'end\u0000', '\uD800', 'x\uDFFF', '\u202Eevil\u202C', '../..', '%00', '\' OR 1=1 --', 'x'.repeat(150_000), 'é'.repeat(3000)),
      fc.string({ maxLength: 20 })
    )
    const value = fc.oneof(hostile, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(hostile, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), hostile, { maxKeys: 3 }))

    function bodies(example: unknown) {
      const base = (example && typeof example === 'object' && !Array.isArray(example) ? real(example) : {}) as Json
      const keys = [...Object.keys(base), 'unexpected']
      const mutated = fc.tuple(fc.subarray(keys), fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 3 }))
        .map(([dropped, set]) => JSON.stringify({ ...Object.fromEntries(Object.entries(base).filter(([k]) => !dropped.includes(k))), ...set }))
      return fc.oneof(mutated, fc.jsonValue().map(v => JSON.stringify(v)), fc.string({ unit: 'binary', maxLength: 60 }))
    }

    it('bodies: no 5xx, documented statuses only, the Error shape, nothing created by a refusal', async () => {
      for (const { key, method, path, op } of operations().filter(o => o.op.requestBody)) {
        const example = op.requestBody!.content['application/json']!.example
        // Besides the generated ones: a NUL in each text field of the example, which PostgreSQL cannot store.
        const base = real(example) as Json
        const nul = Object.keys(base).filter(k => typeof base[k] === 'string').map(k => [JSON.stringify({ ...base, [k]: `${base[k]}\u0000` })] as [string])
        await fc.assert(fc.asyncProperty(bodies(example), async (body) => {
          const table = CREATES[key]
          const before = table ? await rows(table) : 0
          const res = await call({ method, path: fill(path), body })
          expectDocumented(key, op, res)
          if (table) expect(await rows(table), `${key} ${res.status}`).toBe(before + (res.status < 300 ? 1 : 0))
          if (key.startsWith('POST /api/auth/logout')) cookies.alice = await signIn(alice)
        }), { seed: SEED, numRuns: RUNS, endOnFailure: true, examples: nul })
      }
    })

    it('path parameters and queries: no 5xx, documented statuses only', async () => {
      // A URL cannot carry a lone surrogate (encodeURIComponent throws), nor a dot segment (it would name another path).
      const segment = fc.oneof(hostile, fc.uuid()).filter(s => s.length > 0 && s.length < 2000 && s !== '.' && s !== '..' && !UNPAIRED.test(s))
      const query = fc.dictionary(fc.oneof(fc.constantFrom('limit', 'cursor', 'status', 'dataset_id', 'format', 'action', 'token'), fc.string({ maxLength: 8 })), hostile.filter(s => s.length < 2000), { maxKeys: 4 })
      for (const { key, method, path, op } of operations().filter(o => o.op.parameters?.length && !o.key.startsWith('DELETE'))) {
        const names = op.parameters!.filter(p => p.in === 'path').map(p => p.name)
        const example = op.requestBody?.content['application/json']?.example
        await fc.assert(fc.asyncProperty(fc.tuple(...names.map(() => segment)), query, async (values, q) => {
          const params = Object.fromEntries(names.map((name, i) => [name, values[i]!]))
          const res = await call({ method, path: fill(path, params), query: new URLSearchParams(q).toString(), body: example === undefined ? undefined : JSON.stringify(real(example)) })
          expectDocumented(key, op, res)
        }), { seed: SEED, numRuns: RUNS, endOnFailure: true })
      }
    })
  })
})
