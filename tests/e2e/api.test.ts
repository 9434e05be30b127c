import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { ApiErrorSchema } from '#shared/types/api'
import { openWarehouse, queryRows } from '#server/lib/warehouse/duckdb'
import { client } from '../helpers/http'

const baseUrl = inject('baseUrl')
const demo = inject('demo')
const env = inject('env')
const [alice, bob] = demo.users as [typeof demo.users[0], typeof demo.users[0]]

const { api, postJson } = client(baseUrl)

async function signIn(email: string, password: string): Promise<string> {
  const res = await postJson('/api/auth/login', { email, password })
  expect(res.status).toBe(200)
  const cookie = res.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))
  expect(cookie).toBeDefined()
  return cookie!.split(';')[0]!
}

const AUTHENTICATED_ROUTES = ['/api/analytics/datasets', '/api/accounts', '/api/tags', '/api/auth/me']

describe('health', () => {
  it('reports database, warehouse and storage without authentication', async () => {
    const res = await api('/api/health')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      status: 'ok',
      checks: { database: { ok: true }, warehouse: { ok: true }, storage: { ok: true } }
    })
  })
})

describe('unknown API paths', () => {
  it.each([
    ['GET', '/api/anything'],
    ['GET', '/api/analytics/nope?x=1'],
    ['POST', '/api/analytics/exports/123/rewind']
  ])('%s %s answers a JSON 404, not the app\'s HTML page', async (method, path) => {
    const res = await api(path, { method, token: alice.token, headers: { accept: 'text/html,*/*' } })
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toMatch(/application\/json/)
    const body = await res.json()
    expect(body).toMatchObject({ statusCode: 404 })
    expect(body.message).toContain(path.split('?')[0])
  })

  it('leaves the app\'s own pages alone', async () => {
    const res = await api('/login')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
  })
})

describe('authentication', () => {
  it.each(AUTHENTICATED_ROUTES)('%s is 401 without credentials', async (path) => {
    const res = await api(path)
    expect(res.status).toBe(401)
    expect((await res.json()).message).toMatch(/sign in|token/i)
  })

  it.each(AUTHENTICATED_ROUTES)('%s is 401 with a forged or malformed bearer token', async (path) => {
    for (const token of ['otp_' + 'A'.repeat(43), 'not-a-token', alice.token + 'x', '\' OR 1=1 --']) {
      expect((await api(path, { token })).status).toBe(401)
    }
    expect((await api(path, { headers: { authorization: 'Basic Zm9vOmJhcg==' } })).status).toBe(401)
  })

  it('accepts a valid API token and stores only its hash', async () => {
    const res = await api('/api/auth/me', { token: alice.token })
    expect(res.status).toBe(200)
    expect((await res.json()).user).toMatchObject({ id: alice.user_id, email: alice.email })

    const client = new pg.Client({ connectionString: env.DATABASE_URL })
    await client.connect()
    try {
      const tokens = async () => (await client.query('SELECT token_hash, last_used_at FROM api_tokens WHERE user_id = $1', [alice.user_id])).rows
      expect((await tokens()).length).toBeGreaterThan(0)
      expect(JSON.stringify(await tokens())).not.toContain(alice.token)
      // Recorded after the response, off the request's path.
      await expect.poll(async () => (await tokens()).some(r => r.last_used_at !== null)).toBe(true)
    } finally {
      await client.end()
    }
  })

  it('rejects a revoked token', async () => {
    const client = new pg.Client({ connectionString: env.DATABASE_URL })
    await client.connect()
    try {
      // A second token for bob, revoked directly in the database.
      const res = await api('/api/auth/me', { token: bob.token })
      expect(res.status).toBe(200)
      const { createHash } = await import('node:crypto')
      const hash = createHash('sha256').update(bob.token).digest('hex')
      await client.query('UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1', [hash])
      expect((await api('/api/auth/me', { token: bob.token })).status).toBe(401)
      await client.query('UPDATE api_tokens SET revoked_at = NULL WHERE token_hash = $1', [hash])
    } finally {
      await client.end()
    }
  })

  it('signs in with email and password into a sealed HttpOnly, SameSite=Lax cookie session, and signs out', async () => {
    const res = await postJson('/api/auth/login', { email: alice.email.toUpperCase(), password: alice.password })
    expect(res.status).toBe(200)
    const setCookie = res.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))!
    expect(setCookie).toMatch(/HttpOnly/i)
    expect(setCookie).toMatch(/SameSite=Lax/i)
    expect(setCookie).not.toContain(alice.user_id)
    const cookie = setCookie.split(';')[0]!

    const me = await api('/api/auth/me', { cookie })
    expect(me.status).toBe(200)
    expect((await me.json()).user.id).toBe(alice.user_id)

    const out = await api('/api/auth/logout', { method: 'POST', cookie })
    expect(out.status).toBe(200)
    const cleared = out.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))!.split(';')[0]!
    expect((await api('/api/auth/me', { cookie: cleared })).status).toBe(401)
  })

  it('refuses a wrong password and an unknown email with the same 401', async () => {
    const wrong = await postJson('/api/auth/login', { email: alice.email, password: 'wrong-password' })
    const unknown = await postJson('/api/auth/login', { email: 'nobody@outport.local', password: 'wrong-password' })
    expect(wrong.status).toBe(401)
    expect(unknown.status).toBe(401)
    expect((await wrong.json()).message).toBe((await unknown.json()).message)
  })

  it.each([
    ['a missing password', { email: 'a@b.co' }, 'password'],
    ['a malformed email', { email: 'not-an-email', password: 'x' }, 'email'],
    ['an unknown field', { email: 'a@b.co', password: 'x', admin: true }, 'admin'],
    ['a wrong type', { email: ['a@b.co'], password: 'x' }, 'email']
  ])('answers 400 naming the field for %s', async (_case, body, field) => {
    const res = await postJson('/api/auth/login', body)
    expect(res.status).toBe(400)
    const json = await res.json()
    expect(json.data.errors.map((e: { field: string }) => e.field)).toContain(field)
  })

  it('answers 400 to a malformed JSON body', async () => {
    const res = await postJson('/api/auth/login', '{"email": ')
    expect(res.status).toBe(400)
  })
})

describe('accounts and tags', () => {
  it.each([['alice', 0], ['bob', 1]] as const)('%s sees exactly their own accounts and tags', async (_name, index) => {
    const user = demo.users[index]!
    const other = demo.users[1 - index]!
    const accounts: Array<{ id: string, name: string }> = await (await api('/api/accounts', { token: user.token })).json()
    const tags: Array<{ id: string, name: string }> = await (await api('/api/tags', { token: user.token })).json()
    expect(accounts.map(a => a.id).sort()).toEqual([...user.account_ids].sort())
    expect(tags.map(t => t.id).sort()).toEqual([...user.tag_ids].sort())
    expect(accounts.every(a => typeof a.name === 'string' && a.name.length > 0)).toBe(true)
    for (const id of [...other.account_ids, ...other.tag_ids]) {
      expect(JSON.stringify([accounts, tags])).not.toContain(id)
    }
  })

  it('works with a cookie session too', async () => {
    const cookie = await signIn(bob.email, bob.password)
    const accounts: Array<{ id: string }> = await (await api('/api/accounts', { cookie })).json()
    expect(accounts.map(a => a.id).sort()).toEqual([...bob.account_ids].sort())
  })
})

describe('datasets', () => {
  it('lists the three datasets with their columns', async () => {
    const res = await api('/api/analytics/datasets', { token: alice.token })
    expect(res.status).toBe(200)
    const { datasets } = await res.json()
    expect(datasets.map((d: { name: string }) => d.name)).toEqual(['fct_transactions', 'fct_daily_spending_by_tag', 'fct_monthly_trends'])
    for (const dataset of datasets) {
      expect(Object.keys(dataset).sort()).toEqual(['columns', 'description', 'id', 'incremental', 'name', 'row_description', 'time_grain', 'title'])
      expect(dataset.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      expect(['daily', 'monthly']).toContain(dataset.time_grain)
      // Only the row-level dataset has a load time for incremental schedules.
      expect(dataset.incremental).toBe(dataset.name === 'fct_transactions')
      for (const column of dataset.columns) {
        expect(Object.keys(column).sort()).toEqual(['description', 'name', 'type'])
      }
    }
    const transactions = datasets[0]
    expect(transactions.title).toBe('Transactions')
    expect(transactions.columns.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining([
      'transaction_id', 'transaction_date', 'account_id', 'account_name', 'amount', 'currency', 'merchant', 'description', 'tag_ids', 'tags'
    ]))
    expect(datasets[1].columns.map((c: { name: string }) => c.name)).toEqual(['date', 'tag_id', 'tag_name', 'spending', 'transaction_count'])
    expect(datasets[2].columns.map((c: { name: string }) => c.name)).toEqual(['month', 'income', 'spending', 'net', 'transaction_count'])
  })
})

describe('formats and coverage', () => {
  it('GET /api/analytics/formats is the format table as data: what the API accepts, with the defaults', async () => {
    expect((await api('/api/analytics/formats')).status).toBe(401)
    const { formats } = await (await api('/api/analytics/formats', { token: alice.token })).json()
    expect(formats.map((f: { id: string }) => f.id)).toEqual(['csv', 'parquet', 'jsonl', 'json', 'xlsx'])
    const byId = Object.fromEntries(formats.map((f: { id: string }) => [f.id, f]))
    expect(byId.csv).toMatchObject({
      label: 'CSV', extension: 'csv', content_type: 'text/csv; charset=utf-8', max_rows: null, parquet_compressions: [],
      csv_options: { delimiter: { choices: [',', ';', '\t', '|'], default: ',' }, header: { default: true }, bom: { default: false }, formula_guard: { default: true } }
    })
    expect(byId.csv.compressions.map((c: { id: string, extension: string }) => `${c.id}:${c.extension}`)).toEqual(['none:csv', 'gzip:csv.gz', 'zstd:csv.zst'])
    expect(byId.parquet.parquet_compressions.map((c: { id: string }) => c.id)).toEqual(['zstd', 'snappy', 'gzip', 'lz4', 'brotli', 'uncompressed'])
    expect(byId.xlsx).toMatchObject({ max_rows: 1_048_575, csv_options: null, compressions: [{ id: 'none', extension: 'xlsx' }] })
    // Every combination the table offers is one the API accepts.
    for (const format of formats) {
      for (const { id } of format.parquet_compressions.length ? format.parquet_compressions : [{ id: undefined }]) {
        const res = await postJson('/api/analytics/exports/preview', { dataset_id: '054f17bf-1dbb-43ed-98c3-b4858093d7fc', format: format.id, parquet_compression: id, limit: 5 }, { token: alice.token })
        expect(res.status, `${format.id} ${id}`).toBe(200)
      }
    }
  })

  it('GET /api/analytics/datasets/coverage: the first and last dates of the caller\'s rows in each dataset', async () => {
    expect((await api('/api/analytics/datasets/coverage')).status).toBe(401)
    const { coverage } = await (await api('/api/analytics/datasets/coverage', { token: alice.token })).json()
    const warehouse = await openWarehouse(env.WAREHOUSE_PATH!)
    const duck = await warehouse.connect()
    try {
      const [direct] = await queryRows<{ first: string, last: string, first_month: string, last_month: string, rows: string, months: string, loaded: string }>(duck, `SELECT strftime(min(transaction_date), '%Y-%m-%d') AS first, strftime(max(transaction_date), '%Y-%m-%d') AS last,
        strftime(date_trunc('month', min(transaction_date)), '%Y-%m-%d') AS first_month, strftime(date_trunc('month', max(transaction_date)), '%Y-%m-%d') AS last_month,
        count(*)::VARCHAR AS rows, count(DISTINCT date_trunc('month', transaction_date))::VARCHAR AS months, CAST(epoch_ms(max(loaded_at)) AS VARCHAR) AS loaded
        FROM transactions WHERE user_id = '${alice.user_id}'`)
      const updated = new Date(Number(direct!.loaded)).toISOString()
      expect(coverage[0]).toMatchObject({ dataset_id: '054f17bf-1dbb-43ed-98c3-b4858093d7fc', start_date: direct!.first, end_date: direct!.last, row_count: Number(direct!.rows), updated_at: updated })
      expect(coverage[2]).toMatchObject({ dataset_id: 'f586dc33-1f30-43db-9a15-48d593239fae', start_date: direct!.first_month, end_date: direct!.last_month, row_count: Number(direct!.months), updated_at: updated })
    } finally {
      duck.closeSync()
      warehouse.closeSync()
    }
  })
})

describe('the OpenAPI document', () => {
  it('is served without authentication, and the errors the server really answers have its Error shape', async () => {
    const res = await api('/api/openapi.json')
    expect(res.status).toBe(200)
    const document = await res.json()
    expect(document.openapi).toMatch(/^3\.1\./)
    expect(document.paths['/api/analytics/exports'].post.security).toEqual([{ session: [] }, { bearer: [] }])

    const unauthenticated = await api('/api/auth/me')
    const invalid = await postJson('/api/analytics/exports', { format: 'doc' }, { token: alice.token })
    const unknown = await api('/api/analytics/exports/00000000-0000-4000-8000-000000000000', { token: alice.token })
    const noRoute = await api('/api/nothing-here', { token: alice.token })
    for (const [status, answer] of [[401, unauthenticated], [400, invalid], [404, unknown], [404, noRoute]] as const) {
      expect(answer.status).toBe(status)
      const body = await answer.json()
      expect(ApiErrorSchema.safeParse(body).error?.issues ?? []).toEqual([])
    }
  })
})
