import { createHash } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api'
import { openWarehouse, queryRows } from '#server/lib/warehouse/duckdb'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { attemptKey } from '../helpers/faults'
import { client } from '../helpers/http'
import { normaliseJsonRow, parseCsv, readParquetRows, type Row } from '../helpers/readers'

const baseUrl = inject('baseUrl')
const demo = inject('demo')
const env = inject('env')
const [alice, bob] = demo.users as [typeof demo.users[0], typeof demo.users[0]]
const { api, postJson, createExport, getExport, waitForExport } = client(baseUrl)

const [TRANSACTIONS, DAILY_BY_TAG, MONTHLY] = DATASETS.map(d => d.id) as [string, string, string]

type Filters = { start_date?: string, end_date?: string, account_ids?: string[], tag_ids?: string[] }

let warehouse: DuckDBInstance
let duck: DuckDBConnection
let tagNames: Map<string, string>

beforeAll(async () => {
  warehouse = await openWarehouse(env.WAREHOUSE_PATH!)
  duck = await warehouse.connect()
  const tags = await queryRows<{ tag_id: string, name: string }>(duck, 'SELECT tag_id, name FROM tags')
  tagNames = new Map(tags.map(t => [t.tag_id, t.name]))
})
afterAll(() => {
  duck?.closeSync()
  warehouse?.closeSync()
})

/** The user's transactions straight from the warehouse tables, filtered here, not by the app. */
async function referenceTransactions(userId: string, f: Filters): Promise<Row[]> {
  const where = [`t.user_id = '${userId}'`]
  if (f.start_date) where.push(`t.transaction_date >= DATE '${f.start_date}'`)
  if (f.end_date) where.push(`t.transaction_date <= DATE '${f.end_date}'`)
  if (f.account_ids?.length) where.push(`t.account_id IN (${f.account_ids.map(id => `'${id}'`).join(',')})`)
  if (f.tag_ids?.length) where.push(`len(list_intersect(t.tag_ids, [${f.tag_ids.map(id => `'${id}'::UUID`).join(',')}])) > 0`)
  const rows = await queryRows<Record<string, unknown>>(duck, `
    SELECT t.transaction_id, t.transaction_date, t.account_id, a.name AS account_name, t.amount, t.currency,
           t.merchant, t.description, t.tag_ids
    FROM transactions t JOIN accounts a ON a.account_id = t.account_id
    WHERE ${where.join(' AND ')}
    ORDER BY t.transaction_date, t.transaction_id`)
  return rows.map((r) => {
    const row = normaliseJsonRow(r)
    row.tags = (row.tag_ids as string[]).map(id => tagNames.get(id)!)
    return row
  })
}

function cents(amount: string): bigint {
  const negative = amount.startsWith('-')
  const [whole, fraction = ''] = amount.replace('-', '').split('.')
  const value = BigInt(whole!) * 100n + BigInt((fraction + '00').slice(0, 2))
  return negative ? -value : value
}

function money(value: bigint): string {
  const negative = value < 0n
  const abs = negative ? -value : value
  return `${negative ? '-' : ''}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`
}

/** Daily spending by tag, aggregated in JS from transaction rows. */
function dailyByTag(transactions: Row[], tagFilter?: string[]): Row[] {
  const groups = new Map<string, { date: string, tag_id: string, spending: bigint, count: number }>()
  for (const t of transactions) {
    for (const tagId of new Set(t.tag_ids as string[])) {
      if (tagFilter?.length && !tagFilter.includes(tagId)) continue
      const key = `${t.transaction_date}|${tagId}`
      const g = groups.get(key) ?? { date: t.transaction_date as string, tag_id: tagId, spending: 0n, count: 0 }
      const amount = cents(t.amount as string)
      if (amount < 0n) g.spending -= amount
      g.count++
      groups.set(key, g)
    }
  }
  return [...groups.values()].map(g => ({
    date: g.date, tag_id: g.tag_id, tag_name: tagNames.get(g.tag_id)!, spending: money(g.spending), transaction_count: String(g.count)
  }))
}

function monthly(transactions: Row[]): Row[] {
  const groups = new Map<string, { income: bigint, spending: bigint, count: number }>()
  for (const t of transactions) {
    const month = `${(t.transaction_date as string).slice(0, 7)}-01`
    const g = groups.get(month) ?? { income: 0n, spending: 0n, count: 0 }
    const amount = cents(t.amount as string)
    if (amount > 0n) g.income += amount
    else g.spending -= amount
    g.count++
    groups.set(month, g)
  }
  return [...groups.entries()].map(([month, g]) => ({
    month, income: money(g.income), spending: money(g.spending), net: money(g.income - g.spending), transaction_count: String(g.count)
  }))
}

const byKey = (row: Row) => JSON.stringify(row)
const sortRows = (rows: Row[]) => [...rows].sort((a, b) => byKey(a) < byKey(b) ? -1 : 1)

/**
 * CSV cells are text: lists are JSON arrays, NULL is an empty cell, and text cells a spreadsheet
 * would run as a formula (= + - @ tab CR first) carry a leading '. Numbers and dates never do.
 */
function csvShape(rows: Row[], datasetId: string): Record<string, string>[] {
  const text = new Set(DATASETS.find(d => d.id === datasetId)!.columns.filter(c => c.type === 'VARCHAR').map(c => c.name))
  const cell = (k: string, v: Row[string]) => {
    if (Array.isArray(v)) return JSON.stringify(v)
    if (v === null) return ''
    return text.has(k) && /^[=+\-@\t\r]/.test(v) ? `'${v}` : v
  }
  return rows.map(r => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, cell(k, v)])))
}

async function download(job: Awaited<ReturnType<typeof getExport>>) {
  expect(job.status).toBe('completed')
  expect(job.download_url).toBeTruthy()
  // A presigned URL works without any credentials.
  const res = await fetch(job.download_url!)
  expect(res.status).toBe(200)
  const bytes = new Uint8Array(await res.arrayBuffer())
  expect(bytes.byteLength).toBe(job.file_size_bytes)
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(job.checksum_sha256)
  return { bytes, headers: res.headers }
}

async function exportRows(token: string, datasetId: string, format: 'csv' | 'parquet', filters: Filters) {
  const jobId = await createExport(token, { dataset_id: datasetId, format, ...filters })
  const job = await waitForExport(token, jobId)
  expect(job.error).toBeNull()
  const { bytes, headers } = await download(job)
  const dataset = DATASETS.find(d => d.id === datasetId)!
  expect(headers.get('content-type')).toBe(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/vnd.apache.parquet')
  const dates = filters.start_date && filters.end_date ? `${filters.start_date}_to_${filters.end_date}` : 'all_dates'
  expect(headers.get('content-disposition')).toBe(`attachment; filename="${dataset.name}_${dates}.${format}"`)
  if (format === 'csv') {
    const { fields, rows } = parseCsv(new TextDecoder().decode(bytes))
    expect(fields).toEqual(dataset.columns.map(c => c.name))
    expect(rows.length).toBe(job.row_count)
    return { job, csv: rows, parquet: undefined }
  }
  const { table, rows } = readParquetRows(bytes)
  expect(table.schema.fields.map(f => f.name)).toEqual(dataset.columns.map(c => c.name))
  expect(rows.length).toBe(job.row_count)
  return { job, csv: undefined, parquet: rows }
}

const FILTER_CASES: Array<[string, (u: typeof alice) => Filters]> = [
  ['no filters', () => ({})],
  ['a date range', () => ({ start_date: '2025-03-01', end_date: '2025-08-31' })],
  ['one account and one tag', u => ({ account_ids: [u.account_ids[0]!], tag_ids: [u.tag_ids[1]!] })],
  ['a date range and two tags', u => ({ start_date: '2024-06-15', end_date: '2026-01-31', tag_ids: [u.tag_ids[0]!, u.tag_ids[2]!] })]
]

describe.each(FILTER_CASES)('exports with %s', (_name, filtersFor) => {
  const filters = filtersFor(alice)
  let reference: Row[]
  beforeAll(async () => {
    reference = await referenceTransactions(alice.user_id, filters)
    expect(reference.length).toBeGreaterThan(0)
  })

  it.each(['csv', 'parquet'] as const)('fct_transactions as %s equals the warehouse, row for row', async (format) => {
    const { csv, parquet } = await exportRows(alice.token, TRANSACTIONS, format, filters)
    if (csv && _name === 'no filters') {
      // The demo has merchants starting with = - + @: guarded in CSV, verbatim in Parquet; negative
      // amounts stay numbers.
      expect(csv.some(r => /^'[=+\-@]/.test(r.merchant!))).toBe(true)
      expect(csv.some(r => /^[=+\-@]/.test(r.merchant!))).toBe(false)
      expect(csv.some(r => r.amount!.startsWith('-'))).toBe(true)
    }
    // Row-level exports come in storage order, not a promised sort: compare as sets of rows.
    if (csv) expect(sortRows(csv)).toEqual(sortRows(csvShape(reference, TRANSACTIONS)))
    else expect(sortRows(parquet!)).toEqual(sortRows(reference))
  })

  it.each(['csv', 'parquet'] as const)('fct_daily_spending_by_tag as %s equals the sums of the transactions', async (format) => {
    const expected = dailyByTag(reference, filters.tag_ids)
    const { csv, parquet } = await exportRows(alice.token, DAILY_BY_TAG, format, filters)
    if (csv) expect(sortRows(csv)).toEqual(sortRows(csvShape(expected, DAILY_BY_TAG)))
    else expect(sortRows(parquet!)).toEqual(sortRows(expected))
  })

  it.each(['csv', 'parquet'] as const)('fct_monthly_trends as %s equals the sums of the transactions', async (format) => {
    const expected = monthly(reference)
    const { csv, parquet } = await exportRows(alice.token, MONTHLY, format, filters)
    if (csv) expect(csv).toEqual(csvShape(expected, MONTHLY))
    else expect(parquet).toEqual(expected)
  })
})

describe('reconciliation between exports', () => {
  it('monthly trends and daily spending by tag add up, to the cent, to the same user\'s transactions export', async () => {
    const filters = { start_date: '2024-01-01', end_date: '2025-12-31' }
    const [{ csv: tx }, { csv: months }, { csv: daily }] = await Promise.all([
      exportRows(bob.token, TRANSACTIONS, 'csv', filters),
      exportRows(bob.token, MONTHLY, 'csv', filters),
      exportRows(bob.token, DAILY_BY_TAG, 'csv', filters)
    ])
    const sum = (rows: Record<string, string>[], pick: (r: Record<string, string>) => bigint) => rows.reduce((acc, r) => acc + pick(r), 0n)
    const income = sum(tx!, r => cents(r.amount!) > 0n ? cents(r.amount!) : 0n)
    const spending = sum(tx!, r => cents(r.amount!) < 0n ? -cents(r.amount!) : 0n)
    expect(sum(months!, r => cents(r.income!))).toBe(income)
    expect(sum(months!, r => cents(r.spending!))).toBe(spending)
    expect(sum(months!, r => cents(r.net!))).toBe(income - spending)
    expect(sum(months!, r => BigInt(r.transaction_count!))).toBe(BigInt(tx!.length))
    const tagged = tx!.filter(r => r.tag_ids !== '[]')
    for (const tagId of bob.tag_ids) {
      const carrying = tagged.filter(r => r.tag_ids!.includes(tagId))
      const expected = carrying.reduce((acc, r) => acc + (cents(r.amount!) < 0n ? -cents(r.amount!) : 0n), 0n)
      expect(sum(daily!.filter(r => r.tag_id === tagId), r => cents(r.spending!))).toBe(expected)
    }
  })
})

describe('isolation', () => {
  it('another user\'s job is a 404 for status and download, and their exports hold none of the other\'s rows', async () => {
    const aliceJob = await createExport(alice.token, { dataset_id: TRANSACTIONS, format: 'csv' })
    await waitForExport(alice.token, aliceJob)
    expect((await api(`/api/analytics/exports/${aliceJob}`, { token: bob.token })).status).toBe(404)
    expect((await api(`/api/analytics/exports/${aliceJob}/download`, { token: bob.token })).status).toBe(404)
    const list = await (await api('/api/analytics/exports?limit=100', { token: bob.token })).json()
    expect(list.exports.map((e: { job_id: string }) => e.job_id)).not.toContain(aliceJob)

    const { csv } = await exportRows(bob.token, TRANSACTIONS, 'csv', {})
    const aliceAccounts = new Set(alice.account_ids)
    expect(csv!.length).toBe(bob.transactions)
    expect(csv!.filter(r => aliceAccounts.has(r.account_id!))).toEqual([])
  })

  it('a malformed job id is a 404', async () => {
    for (const id of ['not-a-uuid', '..%2F..%2Fetc%2Fpasswd', '1\' OR \'1\'=\'1']) {
      expect((await api(`/api/analytics/exports/${id}`, { token: alice.token })).status).toBe(404)
    }
  })
})

describe('download endpoint and listing', () => {
  it('redirects to a fresh presigned URL for a completed export and lists jobs newest first with a cursor', async () => {
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push(await createExport(bob.token, { dataset_id: MONTHLY, format: 'csv' }))
    for (const id of ids) await waitForExport(bob.token, id)

    const res = await api(`/api/analytics/exports/${ids[0]}/download`, { token: bob.token })
    expect(res.status).toBe(302)
    const location = res.headers.get('location')!
    expect(new URL(location).pathname.split('/').slice(2).join('/')).toMatch(attemptKey(bob.user_id, ids[0]!, 'csv'))
    expect(location).toMatch(/X-Amz-Expires=3600/)
    expect((await fetch(location)).status).toBe(200)

    const first = await (await api('/api/analytics/exports?limit=2', { token: bob.token })).json()
    expect(first.exports.map((e: { job_id: string }) => e.job_id)).toEqual([ids[2], ids[1]])
    const second = await (await api(`/api/analytics/exports?limit=2&cursor=${first.next_cursor}`, { token: bob.token })).json()
    expect(second.exports[0].job_id).toBe(ids[0])
    expect((await api('/api/analytics/exports?cursor=garbage', { token: bob.token })).status).toBe(400)
    expect((await api('/api/analytics/exports?limit=0', { token: bob.token })).status).toBe(400)
  })

  it('answers 409 for the download of an export that has not completed', async () => {
    const db = new pg.Client({ connectionString: env.DATABASE_URL })
    await db.connect()
    try {
      // A job that no worker will claim for an hour: pending as far as the API can tell.
      const { rows } = await db.query(`INSERT INTO jobs (user_id, type, status, metadata, run_at, updated_at)
        VALUES ($1, 'EXPORT', 'pending', $2, now() + interval '1 hour', now()) RETURNING id`,
      [bob.user_id, JSON.stringify({ dataset_id: MONTHLY, dataset_name: 'fct_monthly_trends', format: 'csv', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] } })])
      const res = await api(`/api/analytics/exports/${rows[0].id}/download`, { token: bob.token })
      expect(res.status).toBe(409)
      const job = await getExport(bob.token, rows[0].id)
      expect(job).toMatchObject({ status: 'pending', download_url: null, expires_at: null })
    } finally {
      await db.end()
    }
  })
})

describe('bad input', () => {
  async function jobCount() {
    const db = new pg.Client({ connectionString: env.DATABASE_URL })
    await db.connect()
    try {
      return (await db.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n as number
    } finally {
      await db.end()
    }
  }

  const valid = () => ({ dataset_id: TRANSACTIONS, format: 'csv' })
  const cases: Array<[string, () => unknown, number, string | null]> = [
    ['an unknown field', () => ({ ...valid(), row_limit: 10 }), 400, 'row_limit'],
    ['a malformed dataset_id', () => ({ ...valid(), dataset_id: 'transactions' }), 400, 'dataset_id'],
    ['a missing format', () => ({ dataset_id: TRANSACTIONS }), 400, 'format'],
    ['an unknown format', () => ({ ...valid(), format: 'xls' }), 400, 'format'],
    ['an unknown compression', () => ({ ...valid(), compression: 'brotli' }), 400, 'compression'],
    ['whole-file compression of Parquet', () => ({ ...valid(), format: 'parquet', compression: 'gzip' }), 400, 'compression'],
    ['whole-file compression of Excel', () => ({ ...valid(), format: 'xlsx', compression: 'zstd' }), 400, 'compression'],
    ['parquet_compression for CSV', () => ({ ...valid(), parquet_compression: 'snappy' }), 400, 'parquet_compression'],
    ['an unknown parquet_compression', () => ({ ...valid(), format: 'parquet', parquet_compression: 'lzo' }), 400, 'parquet_compression'],
    ['csv options for JSON', () => ({ ...valid(), format: 'json', csv: { header: false } }), 400, 'csv'],
    ['an unknown delimiter', () => ({ ...valid(), csv: { delimiter: ':' } }), 400, 'csv.delimiter'],
    ['an unknown csv option', () => ({ ...valid(), csv: { quote: '\'' } }), 400, 'csv.quote'],
    ['a limit of 0', () => ({ ...valid(), limit: 0 }), 400, 'limit'],
    ['a limit over 100,000,000', () => ({ ...valid(), limit: 100_000_001 }), 400, 'limit'],
    ['a fractional limit', () => ({ ...valid(), limit: 2.5 }), 400, 'limit'],
    ['an unknown column', () => ({ ...valid(), columns: ['merchant', 'password'] }), 400, 'columns'],
    ['a repeated column', () => ({ ...valid(), columns: ['merchant', 'amount', 'merchant'] }), 400, 'columns'],
    ['a column with SQL', () => ({ ...valid(), columns: ['merchant" FROM main.transactions --'] }), 400, 'columns'],
    ['a bad date', () => ({ ...valid(), start_date: '2024-02-30' }), 400, 'start_date'],
    ['a date with SQL', () => ({ ...valid(), end_date: '2024-01-01\' OR 1=1 --' }), 400, 'end_date'],
    ['start after end', () => ({ ...valid(), start_date: '2025-02-01', end_date: '2025-01-31' }), 400, 'end_date'],
    ['a malformed account id', () => ({ ...valid(), account_ids: ['x\' OR 1=1'] }), 400, 'account_ids.0'],
    ['more than 1,000 ids', () => ({ ...valid(), tag_ids: Array.from({ length: 1001 }, () => alice.tag_ids[0]) }), 400, 'tag_ids'],
    ['another user\'s account', () => ({ ...valid(), account_ids: [bob.account_ids[0]] }), 400, 'account_ids'],
    ['another user\'s tag', () => ({ ...valid(), tag_ids: [alice.tag_ids[0], bob.tag_ids[0]] }), 400, 'tag_ids'],
    ['a wrong type', () => ({ ...valid(), account_ids: 'all' }), 400, 'account_ids'],
    ['a non-object body', () => '[1,2,3]', 400, null],
    ['malformed JSON', () => '{"dataset_id": ', 400, null],
    ['an unknown dataset', () => ({ ...valid(), dataset_id: '00000000-0000-4000-8000-000000000000' }), 404, null]
  ]

  it.each(cases)('%s is refused and creates nothing', async (_name, body, status, field) => {
    const before = await jobCount()
    const res = await postJson('/api/analytics/exports', body(), { token: alice.token })
    expect(res.status).toBe(status)
    const json = await res.json()
    if (field) {
      const errors: Array<{ field: string, message: string }> = json.data.errors
      expect(errors.map(e => e.field)).toContain(field)
    }
    if (_name === 'an unknown column') expect(JSON.stringify(json.data.errors)).toContain('password')
    if (_name === 'a repeated column') expect(JSON.stringify(json.data.errors)).toContain('merchant')
    if (_name.startsWith('another user')) {
      // The error names the offending id.
      const foreign = _name.endsWith('tag') ? bob.tag_ids[0]! : bob.account_ids[0]!
      expect(JSON.stringify(json.data.errors)).toContain(foreign)
    }
    expect(await jobCount()).toBe(before)
  })

  it('is 401 without credentials and creates nothing', async () => {
    const before = await jobCount()
    expect((await postJson('/api/analytics/exports', valid())).status).toBe(401)
    expect(await jobCount()).toBe(before)
  })
})

describe('export options', () => {
  it('a gzip JSON Lines export with chosen columns and a limit: key, filename, content type, DTO and history show the choices', async () => {
    const body = { dataset_id: TRANSACTIONS, format: 'jsonl', compression: 'gzip', columns: ['transaction_date', 'amount', 'tags'], limit: 50, start_date: '2025-01-01', end_date: '2025-12-31' }
    const job = await waitForExport(alice.token, await createExport(alice.token, body))
    expect(job).toMatchObject({ status: 'completed', format: 'jsonl', compression: 'gzip', columns: body.columns, limit: 50, csv: null, parquet_compression: null, row_count: 50 })
    const { bytes, headers } = await download(job)
    expect(headers.get('content-type')).toBe('application/gzip')
    expect(headers.get('content-encoding')).toBeNull()
    expect(headers.get('content-disposition')).toBe('attachment; filename="fct_transactions_2025-01-01_to_2025-12-31.jsonl.gz"')
    expect(new URL(job.download_url!).pathname.split('/').slice(2).join('/')).toMatch(attemptKey(alice.user_id, job.job_id, 'jsonl.gz'))
    const { gunzipSync } = await import('node:zlib')
    const lines = gunzipSync(bytes).toString('utf8').trim().split('\n').map(l => JSON.parse(l))
    const reference = (await referenceTransactions(alice.user_id, { start_date: '2025-01-01', end_date: '2025-12-31' })).slice(0, 50)
    expect(lines).toEqual(reference.map(r => ({ transaction_date: r.transaction_date, amount: Number(r.amount), tags: r.tags })))
    const list = await (await api('/api/analytics/exports?limit=5', { token: alice.token })).json()
    expect(list.exports.find((e: { job_id: string }) => e.job_id === job.job_id)).toMatchObject({ compression: 'gzip', columns: body.columns, limit: 50 })
  })

  it('a CSV with its dialect shows the csv options; defaults are filled in and old-style requests are unchanged', async () => {
    const job = await waitForExport(bob.token, await createExport(bob.token, { dataset_id: MONTHLY, format: 'csv', csv: { delimiter: ';', bom: true } }))
    expect(job).toMatchObject({ compression: 'none', columns: null, limit: null, csv: { delimiter: ';', header: true, bom: true, formula_guard: true }, parquet_compression: null })
    const { bytes } = await download(job)
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    expect(new TextDecoder().decode(bytes.subarray(3)).split('\n')[0]).toBe('month;income;spending;net;transaction_count')
    const plain = await waitForExport(bob.token, await createExport(bob.token, { dataset_id: MONTHLY, format: 'parquet' }))
    expect(plain).toMatchObject({ compression: 'none', columns: null, limit: null, csv: null, parquet_compression: 'zstd' })
  })

  it('an Excel export downloads as a workbook named after the dataset', async () => {
    const job = await waitForExport(bob.token, await createExport(bob.token, { dataset_id: MONTHLY, format: 'xlsx' }))
    const { bytes, headers } = await download(job)
    expect(headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
    expect(headers.get('content-disposition')).toBe('attachment; filename="fct_monthly_trends_all_dates.xlsx"')
    // A zip: PK\x03\x04
    expect([...bytes.subarray(0, 4)]).toEqual([0x50, 0x4b, 0x03, 0x04])
    expect(job.row_count).toBe(36)
  })

  it('an Idempotency-Key replay with other options is a conflict', async () => {
    const post = (body: object) => postJson('/api/analytics/exports', body, { token: bob.token, headers: { 'idempotency-key': 'options-1' } })
    const body = { dataset_id: MONTHLY, format: 'csv' }
    expect((await post(body)).status).toBe(202)
    expect((await post({ ...body, csv: { delimiter: ',' } })).status).toBe(202)
    for (const other of [{ ...body, csv: { formula_guard: false } }, { ...body, limit: 5 }, { ...body, columns: ['month'] }, { ...body, compression: 'gzip' }]) {
      expect((await post(other)).status).toBe(422)
    }
  })
})

describe('row filters', () => {
  const post = (body: object) => postJson('/api/analytics/exports', body, { token: alice.token })
  const base = { dataset_id: TRANSACTIONS, format: 'csv' }

  it('a filtered export holds exactly the rows meeting every condition, with accounts and dates; its sum reconciles with DuckDB\'s', async () => {
    const rowFilters = [
      { column: 'amount', op: 'lt', value: '-20' },
      { column: 'merchant', op: 'contains', value: 'E' },
      { column: 'tags', op: 'has_none', value: ['Salary'] }
    ]
    const filters = { start_date: '2025-01-01', end_date: '2026-06-30', account_ids: alice.account_ids.slice(0, 2) }
    const job = await waitForExport(alice.token, await createExport(alice.token, { ...base, format: 'parquet', ...filters, row_filters: rowFilters, columns: ['transaction_id', 'amount'] }))
    expect(job).toMatchObject({ status: 'completed', filters: { ...filters, tag_ids: [], row_filters: rowFilters } })
    const { rows } = readParquetRows((await download(job)).bytes)
    const reference = (await referenceTransactions(alice.user_id, filters))
      .filter(r => cents(r.amount as string) < -2000n && String(r.merchant ?? '').toLowerCase().includes('e') && !(r.tags as string[]).includes('Salary'))
    expect(reference.length).toBeGreaterThan(0)
    expect(rows.map(r => r.transaction_id).sort()).toEqual(reference.map(r => r.transaction_id).sort())
    expect(job.row_count).toBe(reference.length)
    const [direct] = await queryRows<{ total: string }>(duck, `SELECT sum(amount)::VARCHAR AS total FROM transactions t
      WHERE user_id = '${alice.user_id}' AND transaction_date BETWEEN DATE '2025-01-01' AND DATE '2026-06-30'
        AND account_id IN (${filters.account_ids.map(id => `'${id}'`).join(', ')}) AND amount < -20 AND merchant ILIKE '%e%'
        AND NOT EXISTS (SELECT 1 FROM tags g WHERE g.name = 'Salary' AND list_contains(t.tag_ids, g.tag_id))`)
    expect(money(rows.reduce((sum, r) => sum + cents(r.amount as string), 0n))).toBe(direct!.total)
  })

  it('a condition that does not fit its column is a 400 naming it, with the operators the column offers', async () => {
    const res = await post({ ...base, row_filters: [{ column: 'merchant', op: 'eq', value: 'x' }, { column: 'tags', op: 'has_any', value: ['x'] }, { column: 'amount', op: 'contains', value: 'x' }] })
    expect(res.status).toBe(400)
    expect((await res.json()).data.errors).toEqual([{ field: 'row_filters[2].op', message: '`contains` is for text columns; amount is DECIMAL(18,2): use eq, ne, in, not_in, lt, lte, gt, gte, between, is_null, is_not_null' }])
  })

  const refused: Array<[string, unknown, string]> = [
    ['an unknown column', [{ column: 'password', op: 'eq', value: 'x' }], 'row_filters[0].column'],
    ['an unknown operator', [{ column: 'amount', op: 'like', value: 'x' }], 'row_filters[0].op'],
    ['a quote in a date', [{ column: 'transaction_date', op: 'gt', value: '2024-01-01\' OR 1=1 --' }], 'row_filters[0].value'],
    ['a decimal with three places', [{ column: 'amount', op: 'eq', value: '1.005' }], 'row_filters[0].value'],
    ['a list where one value belongs', [{ column: 'amount', op: 'lt', value: [1, 2] }], 'row_filters[0].value'],
    ['one value where a list belongs', [{ column: 'currency', op: 'in', value: 'EUR' }], 'row_filters[0].value'],
    ['an object for a value', [{ column: 'merchant', op: 'eq', value: { $ne: null } }], 'row_filters[0].value'],
    ['a NUL character', [{ column: 'merchant', op: 'contains', value: 'a\u0000b' }], 'row_filters[0].value'],
    ['a very long text', [{ column: 'merchant', op: 'contains', value: 'x'.repeat(5000) }], 'row_filters[0].value'],
    ['1,001 values', [{ column: 'currency', op: 'in', value: Array.from({ length: 1001 }, (_, i) => `C${i}`) }], 'row_filters[0].value'],
    ['21 conditions', Array.from({ length: 21 }, () => ({ column: 'amount', op: 'is_not_null' })), 'row_filters'],
    ['a value for is_null', [{ column: 'merchant', op: 'is_null', value: 'x' }], 'row_filters[0].value'],
    ['an unknown key', [{ column: 'merchant', op: 'eq', value: 'x', sql: '1=1' }], 'row_filters[0].sql']
  ]
  it.each(refused)('%s is refused, naming the condition, and creates nothing', async (_name, rowFilters, field) => {
    for (const url of ['/api/analytics/exports', '/api/analytics/exports/preview']) {
      const res = await postJson(url, { ...base, row_filters: rowFilters }, { token: alice.token })
      expect(res.status).toBe(400)
      expect((await res.json()).data.errors.map((e: { field: string }) => e.field)).toContain(field)
    }
  })

  it('quotes, % and _ are matched literally (as DuckDB\'s own strpos counts them), and the warehouse is intact', async () => {
    for (const value of ['\'; DROP TABLE transactions; --', '%', '_', '\'', '\\', '" OR ""="']) {
      const res = await postJson('/api/analytics/exports/preview', { ...base, row_filters: [{ column: 'merchant', op: 'contains', value }] }, { token: alice.token })
      expect(res.status).toBe(200)
      const literal = value.replaceAll('\'', '\'\'')
      const [direct] = await queryRows<{ n: string }>(duck, `SELECT count(*) AS n FROM transactions WHERE user_id = '${alice.user_id}' AND strpos(lower(merchant), lower('${literal}')) > 0`)
      expect((await res.json()).row_count, value).toBe(Number(direct!.n))
      // A LIKE wildcard would have matched every row with a merchant.
      expect(Number(direct!.n)).toBeLessThan(alice.transactions)
    }
    const [row] = await queryRows<{ n: string }>(duck, `SELECT count(*) AS n FROM transactions WHERE user_id = '${alice.user_id}'`)
    expect(Number(row!.n)).toBe(alice.transactions)
  })

  it('the Idempotency-Key hash includes the conditions', async () => {
    const postKeyed = (body: object) => postJson('/api/analytics/exports', body, { token: bob.token, headers: { 'idempotency-key': 'conditions-1' } })
    const body = { dataset_id: MONTHLY, format: 'csv', row_filters: [{ column: 'net', op: 'lt', value: 0 }] }
    const first = await postKeyed(body)
    expect(first.status).toBe(202)
    expect((await postKeyed(body)).headers.get('idempotent-replayed')).toBe('true')
    expect((await postKeyed({ ...body, row_filters: [{ column: 'net', op: 'lt', value: 1 }] })).status).toBe(422)
    expect((await postKeyed({ dataset_id: MONTHLY, format: 'csv' })).status).toBe(422)
    await waitForExport(bob.token, (await first.json()).job_id)
  })
})

describe('preview', () => {
  it('answers columns, the first 20 rows, the exact count and a size estimate, and creates nothing', async () => {
    const db = new pg.Client({ connectionString: env.DATABASE_URL })
    await db.connect()
    try {
      const jobs = async () => (await db.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n as number
      const before = await jobs()
      const filters = { start_date: '2025-03-01', end_date: '2025-08-31' }
      const res = await postJson('/api/analytics/exports/preview', { dataset_id: TRANSACTIONS, format: 'csv', compression: 'gzip', ...filters }, { token: alice.token })
      expect(res.status).toBe(200)
      const preview = await res.json()
      const reference = await referenceTransactions(alice.user_id, filters)
      expect(preview.row_count).toBe(reference.length)
      expect(preview.columns.map((c: { name: string }) => c.name)).toEqual(DATASETS[0]!.columns.map(c => c.name))
      expect(preview.rows.length).toBe(20)
      expect(preview.estimated_bytes).toBeGreaterThan(0)
      const csvRows = csvShape(reference, TRANSACTIONS).map(r => JSON.stringify(r))
      for (const row of preview.rows) expect(csvRows).toContain(JSON.stringify(row))
      expect(await jobs()).toBe(before)
    } finally {
      await db.end()
    }
  })

  it('validates like creating: bad fields are 400s naming them, other users\' ids too, no credentials 401', async () => {
    const bad = await postJson('/api/analytics/exports/preview', { dataset_id: TRANSACTIONS, format: 'parquet', compression: 'gzip', columns: ['x'] }, { token: alice.token })
    expect(bad.status).toBe(400)
    expect((await bad.json()).data.errors.map((e: { field: string }) => e.field)).toContain('compression')
    const unknownColumn = await postJson('/api/analytics/exports/preview', { dataset_id: TRANSACTIONS, format: 'csv', columns: ['x'] }, { token: alice.token })
    expect(unknownColumn.status).toBe(400)
    expect((await unknownColumn.json()).data.errors).toEqual([{ field: 'columns', message: expect.stringContaining('x') }])
    const foreign = await postJson('/api/analytics/exports/preview', { dataset_id: TRANSACTIONS, format: 'csv', account_ids: [bob.account_ids[0]] }, { token: alice.token })
    expect(foreign.status).toBe(400)
    expect((await postJson('/api/analytics/exports/preview', { dataset_id: TRANSACTIONS, format: 'csv' })).status).toBe(401)
  })
})
