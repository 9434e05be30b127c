import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '#server/lib/config'
import type { Db } from '#server/lib/db/client'
import { createExport } from '#server/lib/exports/create'
import { previewExport, PREVIEW_ROWS } from '#server/lib/exports/preview'
import { runExport } from '#server/lib/exports/run'
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '#server/lib/local/s3rver'
import { createStorage, type Storage } from '#server/lib/storage/s3'
import { ValidationError } from '#server/lib/validation'
import { DATASETS, type Dataset } from '#server/lib/warehouse/datasets'
import { buildWarehouse, planDemo } from '#server/lib/warehouse/demo'
import { queryRows } from '#server/lib/warehouse/duckdb'
import { WarehouseReader } from '#server/lib/warehouse/reader'
import { CreateExportSchema, type CreateExportInput, type ExportMetadata } from '#shared/types/exports'
import { freePort } from '../helpers/server'

/**
 * The preview against the real thing: its row count against a count of the warehouse, its rows
 * against the file's first rows, its size estimate against the size of the file an export of the
 * same request writes. No database is needed for requests without account or tag filters.
 */
const [TX, DAILY, MONTHLY] = DATASETS as [Dataset, Dataset, Dataset]
const LIMITS = { EXPORT_MAX_ACTIVE_PER_USER: 3, EXPORT_MAX_QUEUE_DEPTH: 100, EXPORT_MAX_RANGE_DAYS: undefined }
const NO_DB = new Proxy({}, {
  get: () => {
    throw new Error('the database is not needed here')
  }
}) as Db

let dir: string
let s3: S3rverHandle
let storage: Storage
let warehouse: WarehouseReader
// The demo's default user (10,000 transactions) and a larger one, so estimates are extrapolated.
const [small, large] = planDemo({ users: 2, transactions: 10_000, seed: 21 })
large!.transactions = 60_000

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outport-preview-'))
  s3 = await startS3rver({ directory: join(dir, 's3'), port: await freePort(), buckets: ['preview-test'] })
  storage = createStorage(loadConfig({
    DATABASE_URL: 'postgresql://unused', S3_EXPORTS_BUCKET: 'preview-test', S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey
  }))
  await buildWarehouse(join(dir, 'warehouse.duckdb'), [small!, large!], 21)
  warehouse = new WarehouseReader(join(dir, 'warehouse.duckdb'))
})
afterAll(async () => {
  warehouse?.close()
  await s3?.stop()
  await rm(dir, { recursive: true, force: true })
})

const preview = (userId: string, body: CreateExportInput) =>
  previewExport({ db: NO_DB, warehouse, workDir: join(dir, 'work') }, LIMITS, userId, CreateExportSchema.parse(body))

let jobSeq = 0
async function realSize(userId: string, body: CreateExportInput): Promise<{ bytes: number, rows: number }> {
  const request = CreateExportSchema.parse(body)
  const dataset = DATASETS.find(d => d.id === request.dataset_id)!
  const metadata: ExportMetadata = {
    dataset_id: dataset.id, dataset_name: dataset.name, format: request.format,
    filters: { start_date: request.start_date ?? null, end_date: request.end_date ?? null, account_ids: [], tag_ids: [], row_filters: request.row_filters ?? [] },
    compression: request.compression ?? 'none', columns: request.columns ?? null, limit: request.limit ?? null,
    csv: request.format === 'csv' ? { delimiter: ',', header: true, bom: false, formula_guard: true, ...request.csv } : null,
    parquet_compression: request.format === 'parquet' ? request.parquet_compression ?? 'zstd' : null
  }
  const id = `00000000-0000-4000-8000-${String(++jobSeq).padStart(12, '0')}`
  const result = await runExport({ id, userId, metadata }, { warehouse, storage, workDir: join(dir, 'work'), signal: new AbortController().signal, onProgress: () => {} })
  return { bytes: result.file_size_bytes, rows: result.row_count }
}

describe('estimated_bytes', () => {
  const choices: Array<Partial<CreateExportInput>> = [
    { format: 'csv' },
    { format: 'csv', compression: 'gzip' },
    { format: 'csv', compression: 'zstd', csv: { bom: true, delimiter: ';' } },
    { format: 'jsonl' },
    { format: 'jsonl', compression: 'gzip' },
    { format: 'json', compression: 'zstd' },
    { format: 'parquet' },
    { format: 'parquet', parquet_compression: 'snappy' },
    { format: 'xlsx' }
  ]
  const errors: string[] = []
  afterAll(() => {
    console.info(`preview estimate errors:\n${errors.join('\n')}`)
  })

  for (const dataset of [TX, DAILY, MONTHLY]) {
    it.each(choices)(`${dataset.name} %o: within ±30 % of the real file, and the row count is exact`, async (choice) => {
      for (const user of [small!, large!]) {
        const body = { dataset_id: dataset.id, format: 'csv', ...choice } as CreateExportInput
        const estimate = await preview(user.user_id, body)
        const real = await realSize(user.user_id, body)
        expect(estimate.row_count).toBe(real.rows)
        const error = estimate.estimated_bytes / real.bytes - 1
        errors.push(`${dataset.name} ${JSON.stringify(choice)} ${real.rows} rows: estimate ${estimate.estimated_bytes}, real ${real.bytes}, ${(error * 100).toFixed(1)} %`)
        expect(Math.abs(error), `${estimate.estimated_bytes} against ${real.bytes}`).toBeLessThanOrEqual(0.3)
      }
    }, 120_000)
  }
})

describe('the preview', () => {
  it('shows the first rows as the CSV will hold them: guarded text, lists as JSON, plain decimals and ISO dates', async () => {
    const result = await preview(large!.user_id, { dataset_id: TX.id, format: 'csv', limit: 1000 })
    expect(result.row_count).toBe(1000)
    expect(result.rows.length).toBe(PREVIEW_ROWS)
    expect(result.columns).toEqual(TX.columns.map(c => ({ name: c.name, type: c.type === 'UUID' || c.type.endsWith('[]') ? 'VARCHAR' : c.type })))
    const [first] = result.rows
    expect(Object.keys(first!)).toEqual(TX.columns.map(c => c.name))
    for (const row of result.rows) {
      expect(row.transaction_date).toMatch(/^\d{4}-\d{2}-\d{2}$/)
      expect(row.amount).toMatch(/^-?\d+\.\d{2}$/)
      expect(String(row.tag_ids)).toMatch(/^\[.*\]$/)
      expect(String(row.merchant)).not.toMatch(/^[=+\-@]/)
    }
    // The limit takes the first rows by date then id: the preview's rows are those.
    const [reference] = await queryRows<{ ids: string[] }>(await warehouse.connect(), `SELECT list(transaction_id::VARCHAR ORDER BY transaction_date, transaction_id)[1:${PREVIEW_ROWS}] AS ids FROM transactions WHERE user_id = '${large!.user_id}'`)
    expect(result.rows.map(r => r.transaction_id)).toEqual(reference!.ids)
  })

  it('shows JSON values typed (numbers, real arrays) and only the chosen columns, in their order', async () => {
    const result = await preview(small!.user_id, { dataset_id: TX.id, format: 'jsonl', columns: ['tags', 'amount', 'transaction_id'] })
    expect(result.columns).toEqual([{ name: 'tags', type: 'VARCHAR[]' }, { name: 'amount', type: 'DECIMAL(18,2)' }, { name: 'transaction_id', type: 'VARCHAR' }])
    expect(Object.keys(result.rows[0]!)).toEqual(['tags', 'amount', 'transaction_id'])
    expect(Array.isArray(result.rows[0]!.tags)).toBe(true)
    expect(typeof result.rows[0]!.amount).toBe('number')
    expect(result.row_count).toBe(10_000)
  })

  it('counts with the filters and shows monthly trends whole', async () => {
    const result = await preview(small!.user_id, { dataset_id: MONTHLY.id, format: 'xlsx', start_date: '2025-01-01', end_date: '2025-06-30' })
    expect(result.row_count).toBe(6)
    expect(result.rows.map(r => r.month)).toEqual(['2025-01-01', '2025-02-01', '2025-03-01', '2025-04-01', '2025-05-01', '2025-06-01'])
    expect(typeof result.rows[0]!.transaction_count).toBe('number')
  })

  it('refuses what creating would refuse, naming the field', async () => {
    const error = await preview(small!.user_id, { dataset_id: TX.id, format: 'csv', columns: ['merchant', 'nope'] }).catch(e => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).errors).toEqual([{ field: 'columns', message: expect.stringContaining('nope') }])
  })

  it('writes nothing: no object, no file left in the work directory', async () => {
    const before = await storage.client.send(new ListObjectsV2Command({ Bucket: storage.bucket }))
    for (const format of ['csv', 'parquet', 'xlsx', 'json'] as const) await preview(large!.user_id, { dataset_id: DAILY.id, format })
    const after = await storage.client.send(new ListObjectsV2Command({ Bucket: storage.bucket }))
    expect(after.KeyCount).toBe(before.KeyCount)
    expect(await readdir(join(dir, 'work'))).toEqual([])
  })
})

describe('the preview with row filters', () => {
  const conditions = {
    // On the transactions table: its count and first rows stay cheap.
    table: [{ column: 'amount', op: 'lt', value: -20 }, { column: 'merchant', op: 'contains', value: 'a' }],
    // On a computed column: every condition on the dataset's rows.
    rows: [{ column: 'amount', op: 'lt', value: -20 }, { column: 'tags', op: 'has_any', value: ['Groceries', 'Transport'] }]
  } as const

  for (const [where, rowFilters] of Object.entries(conditions)) {
    it.each(['csv', 'parquet', 'xlsx'] as const)(`conditions on the ${where}, %s: row_count exact, estimate within ±30 %, every row meets them`, async (format) => {
      const body = { dataset_id: TX.id, format, row_filters: [...rowFilters], columns: ['transaction_date', 'merchant', 'amount', 'tags'] } as CreateExportInput
      const result = await preview(large!.user_id, body)
      const real = await realSize(large!.user_id, body)
      expect(result.row_count).toBe(real.rows)
      expect(result.row_count).toBeGreaterThan(PREVIEW_ROWS)
      expect(Math.abs(result.estimated_bytes / real.bytes - 1)).toBeLessThanOrEqual(0.3)
      for (const row of result.rows) {
        expect(Number(row.amount)).toBeLessThan(-20)
        if (where === 'table') expect(String(row.merchant).toLowerCase()).toContain('a')
        else expect(String(row.tags)).toMatch(/Groceries|Transport/)
      }
      expect(result.histogram.reduce((sum, b) => sum + b.rows, 0)).toBe(result.row_count)
    }, 120_000)
  }

  it('a condition on a column left out of the file, with a limit: the first matching rows', async () => {
    const result = await preview(small!.user_id, { dataset_id: TX.id, format: 'jsonl', columns: ['transaction_id'], limit: 30, row_filters: [{ column: 'amount', op: 'gt', value: 100 }] })
    const [reference] = await queryRows<{ ids: string[] }>(await warehouse.connect(), `SELECT list(transaction_id::VARCHAR ORDER BY transaction_date, transaction_id)[1:${PREVIEW_ROWS}] AS ids FROM transactions WHERE user_id = '${small!.user_id}' AND amount > 100`)
    expect(result.row_count).toBe(30)
    expect(result.rows.map(r => r.transaction_id)).toEqual(reference!.ids)
    expect(result.histogram.reduce((sum, b) => sum + b.rows, 0)).toBe(30)
  })

  it('refuses a condition that does not fit its column, naming it', async () => {
    const error = await preview(small!.user_id, { dataset_id: DAILY.id, format: 'csv', row_filters: [{ column: 'transaction_count', op: 'gte', value: 1 }, { column: 'tag_name', op: 'gt', value: 'A' }] }).catch(e => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).errors).toEqual([{ field: 'row_filters[1].op', message: '`gt` is for numbers, decimals, dates and timestamps; tag_name is VARCHAR: use eq, ne, in, not_in, contains, starts_with, ends_with, is_null, is_not_null' }])
  })
})

describe('the histogram', () => {
  it('counts rows per bucket of the date column for the same filters, at most 60 buckets, every bucket of the range', async () => {
    const connection = await warehouse.connect()
    const cases: Array<[CreateExportInput, string]> = [
      [{ dataset_id: TX.id, format: 'csv', start_date: '2025-03-01', end_date: '2025-03-31' }, 'day'],
      [{ dataset_id: TX.id, format: 'csv', start_date: '2025-01-01', end_date: '2025-12-31', row_filters: [{ column: 'amount', op: 'lt', value: 0 }] }, 'week'],
      [{ dataset_id: TX.id, format: 'csv' }, 'month'],
      [{ dataset_id: MONTHLY.id, format: 'csv', start_date: '2025-01-01', end_date: '2025-01-31' }, 'month'],
      [{ dataset_id: DAILY.id, format: 'csv', start_date: '2025-01-01', end_date: '2025-02-15' }, 'day']
    ]
    for (const [body, grain] of cases) {
      const result = await preview(small!.user_id, body)
      expect(result.histogram_grain, JSON.stringify(body)).toBe(grain)
      expect(result.histogram.length).toBeLessThanOrEqual(60)
      expect(result.histogram.reduce((sum, b) => sum + b.rows, 0)).toBe(result.row_count)
      const dates = result.histogram.map(b => b.bucket)
      expect(dates).toEqual([...dates].sort())
      if (body.start_date) expect(dates[0]! <= body.start_date).toBe(true)
    }
    // Against DuckDB's own date_trunc of the same rows.
    const weekly = await preview(small!.user_id, cases[1]![0])
    const direct = await queryRows<{ bucket: string, n: string }>(connection, `SELECT strftime(date_trunc('week', transaction_date), '%Y-%m-%d') AS bucket, count(*) AS n FROM transactions
      WHERE user_id = '${small!.user_id}' AND transaction_date BETWEEN DATE '2025-01-01' AND DATE '2025-12-31' AND amount < 0 GROUP BY 1 ORDER BY 1`)
    expect(weekly.histogram.filter(b => b.rows > 0)).toEqual(direct.map(d => ({ bucket: d.bucket, rows: Number(d.n) })))
    connection.closeSync()
  })

  it('an aggregate\'s histogram counted from its computed rows equals the one counted by its own query', async () => {
    const body: CreateExportInput = { dataset_id: DAILY.id, format: 'csv', limit: 25, row_filters: [{ column: 'transaction_count', op: 'gte', value: 2 }] }
    // With its date column the rows already computed are counted; without it the dataset is queried again.
    const counted = await preview(small!.user_id, body)
    const queried = await preview(small!.user_id, { ...body, columns: ['tag_name', 'transaction_count'] })
    expect(counted.row_count).toBe(25)
    expect(counted.histogram.reduce((sum, b) => sum + b.rows, 0)).toBe(25)
    expect(counted.histogram.filter(b => b.rows > 0).length).toBeGreaterThan(1)
    expect(counted.histogram).toEqual(queried.histogram)
    expect(counted.histogram_grain).toBe(queried.histogram_grain)
  })
})

describe('exports in parts', () => {
  it('estimates the number of parts the export will be in', async () => {
    const rowsSplit = await preview(large!.user_id, { dataset_id: TX.id, format: 'csv', max_part_rows: 10_000 })
    expect(rowsSplit.row_count).toBe(60_000)
    expect(rowsSplit.estimated_parts).toBe(6)
    expect((await preview(large!.user_id, { dataset_id: TX.id, format: 'csv' })).estimated_parts).toBe(1)
    // By size: against the parts a real export writes, within one.
    const body: CreateExportInput = { dataset_id: TX.id, format: 'json', max_part_mb: 8 }
    const estimate = await preview(large!.user_id, body)
    const request = CreateExportSchema.parse(body)
    const metadata: ExportMetadata = {
      dataset_id: TX.id, dataset_name: TX.name, format: 'json', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] },
      compression: 'none', columns: null, limit: null, csv: null, parquet_compression: null, max_part_mb: request.max_part_mb
    }
    const real = await runExport({ id: `00000000-0000-4000-8000-${String(++jobSeq).padStart(12, '0')}`, userId: large!.user_id, metadata }, { warehouse, storage, workDir: join(dir, 'work'), signal: new AbortController().signal, onProgress: () => {} })
    expect(real.parts!.length).toBeGreaterThan(1)
    expect(Math.abs(estimate.estimated_parts - real.parts!.length)).toBeLessThanOrEqual(1)
  })

  it('an Excel export over one sheet is refused with a message naming max_part_rows, and accepted with it', async () => {
    // A warehouse whose count says two million rows (a real one that big is too slow for a test).
    const counted = { connect: async () => ({ runAndReadAll: async () => ({ getRowObjectsJson: () => [{ n: 2_000_000 }] }), closeSync: () => {} }) } as unknown as WarehouseReader
    const create = (body: CreateExportInput) => createExport({ db: NO_DB, warehouse: counted }, LIMITS, small!.user_id, CreateExportSchema.parse(body), { source: 'manual' })
    const refused = await create({ dataset_id: TX.id, format: 'xlsx' }).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(ValidationError)
    expect((refused as ValidationError).errors).toEqual([{ field: 'format', message: expect.stringContaining('Set max_part_rows (at most 1,048,575) to get several workbooks') }])
    // With rows per workbook the check passes; it then reaches the queue (no database here).
    await expect(create({ dataset_id: TX.id, format: 'xlsx', max_part_rows: 1_000_000 })).rejects.toThrow('the database is not needed here')
  })
})
