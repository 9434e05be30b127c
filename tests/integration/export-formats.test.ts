import { execFile, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gunzipSync } from 'node:zlib'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import type { DuckDBConnection } from '@duckdb/node-api'
import Papa from 'papaparse'
import * as XLSX from 'xlsx'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '#server/lib/config'
import { exportQuery, projectionFor, runExport, type ExportRunOptions } from '#server/lib/exports/run'
import { writeXlsx } from '#server/lib/exports/xlsx'
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '#server/lib/local/s3rver'
import { createStorage, type Storage } from '#server/lib/storage/s3'
import { DATASETS, type Dataset } from '#server/lib/warehouse/datasets'
import { buildWarehouse, planDemo } from '#server/lib/warehouse/demo'
import { queryRows } from '#server/lib/warehouse/duckdb'
import { outputColumns } from '#server/lib/warehouse/query'
import { WarehouseReader } from '#server/lib/warehouse/reader'
import { resolveExportOptions, type CsvOptions, type ExportMetadata } from '#shared/types/exports'
import { fileContentType, fileExtension, PARQUET_COMPRESSIONS, type Compression, type ExportFormat, type ParquetCompression } from '#shared/types/formats'
import type { RowFilter } from '#shared/types/row-filters'
import { readParquetRows } from '../helpers/readers'
import { freePort } from '../helpers/server'

const run = promisify(execFile)

/**
 * Every format read back by a reader that is not ours, compared cell by cell with a direct DuckDB
 * query of the same filters: papaparse, DuckDB's read_csv and pandas for CSV; DuckDB's read_json
 * and JSON.parse for JSON and JSON Lines; parquet-wasm + apache-arrow for Parquet; SheetJS and
 * LibreOffice for Excel.
 */
const [TX, DAILY, MONTHLY] = DATASETS as [Dataset, Dataset, Dataset]
const RANGE = { start_date: '2025-01-01', end_date: '2025-12-31' }
const PANDAS = '/usr/bin/python3'

type Value = string | number | null | Value[]
type Row = Record<string, Value>

let dir: string
let s3: S3rverHandle
let storage: Storage
let warehouse: WarehouseReader
let duck: DuckDBConnection
let tagNames: Map<string, string>
const [user] = planDemo({ users: 1, transactions: 8_000, seed: 11 })
let jobSeq = 0

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outport-formats-'))
  s3 = await startS3rver({ directory: join(dir, 's3'), port: await freePort(), buckets: ['formats-test'] })
  storage = createStorage(loadConfig({
    DATABASE_URL: 'postgresql://unused', S3_EXPORTS_BUCKET: 'formats-test', S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey
  }))
  await buildWarehouse(join(dir, 'warehouse.duckdb'), [user!], 11)
  warehouse = new WarehouseReader(join(dir, 'warehouse.duckdb'))
  duck = await warehouse.connect()
  tagNames = new Map((await queryRows<{ tag_id: string, name: string }>(duck, 'SELECT tag_id, name FROM tags')).map(t => [t.tag_id, t.name]))
})
afterAll(async () => {
  duck?.closeSync()
  warehouse?.close()
  await s3?.stop()
  await rm(dir, { recursive: true, force: true })
})

interface Choices {
  dataset?: Dataset
  compression?: Compression
  csv?: Partial<CsvOptions>
  columns?: string[]
  limit?: number
  parquet_compression?: ParquetCompression
  filters?: Partial<ExportMetadata['filters']>
}

/** Runs a real export (DuckDB → work file → s3rver) and returns the stored bytes. */
async function exportFile(format: ExportFormat, choices: Choices = {}) {
  const dataset = choices.dataset ?? TX
  const options = resolveExportOptions({ format, ...choices })
  const metadata: ExportMetadata = {
    dataset_id: dataset.id,
    dataset_name: dataset.name,
    format,
    filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [], ...choices.filters },
    ...options
  }
  const id = `00000000-0000-4000-8000-${String(++jobSeq).padStart(12, '0')}`
  const opts: ExportRunOptions = { warehouse, storage, workDir: join(dir, 'work'), signal: new AbortController().signal, onProgress: () => {} }
  const result = await runExport({ id, userId: user!.user_id, metadata }, opts)
  expect(result.s3_key).toBe(`exports/${user!.user_id}/${id}.${fileExtension(format, options.compression)}`)
  const object = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: result.s3_key }))
  expect(object.ContentType).toBe(fileContentType(format, options.compression))
  expect(object.ContentEncoding).toBeUndefined()
  const bytes = Buffer.from(await object.Body!.transformToByteArray())
  const path = join(dir, `${id}.${fileExtension(format, options.compression)}`)
  await writeFile(path, bytes)
  return { bytes, path, result, options }
}

/**
 * The user's rows straight from the warehouse tables (not the dataset SQL), as text: the values
 * every reader's output is normalised to. Date then id order.
 */
async function referenceTransactions(filters: { start_date?: string, end_date?: string } = {}): Promise<Row[]> {
  const where = [`t.user_id = '${user!.user_id}'`]
  if (filters.start_date) where.push(`t.transaction_date >= DATE '${filters.start_date}'`)
  if (filters.end_date) where.push(`t.transaction_date <= DATE '${filters.end_date}'`)
  const rows = await queryRows<Record<string, Value>>(duck, `
    SELECT t.transaction_id::VARCHAR AS transaction_id, strftime(t.transaction_date, '%Y-%m-%d') AS transaction_date,
           t.account_id::VARCHAR AS account_id, a.name AS account_name, t.amount::VARCHAR AS amount, t.currency,
           t.merchant, t.description, t.tag_ids::VARCHAR[] AS tag_ids
    FROM transactions t JOIN accounts a ON a.account_id = t.account_id
    WHERE ${where.join(' AND ')}
    ORDER BY t.transaction_date, t.transaction_id`)
  return rows.map(r => ({ ...r, tags: (r.tag_ids as string[]).map(id => tagNames.get(id)!) }))
}

async function referenceMonthly(): Promise<Row[]> {
  return queryRows<Row>(duck, `
    SELECT strftime(date_trunc('month', transaction_date), '%Y-%m-%d') AS month,
           sum(amount) FILTER (WHERE amount > 0)::DECIMAL(18,2)::VARCHAR AS income,
           coalesce(-sum(amount) FILTER (WHERE amount < 0), 0)::DECIMAL(18,2)::VARCHAR AS spending,
           sum(amount)::DECIMAL(18,2)::VARCHAR AS net, count(*)::VARCHAR AS transaction_count
    FROM transactions WHERE user_id = '${user!.user_id}' GROUP BY 1 ORDER BY 1`)
}

const pick = (rows: Row[], columns: string[]) => rows.map(r => Object.fromEntries(columns.map(c => [c, r[c]!])))
const sortRows = (rows: Row[]) => [...rows].sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)

/** A CSV cell as the export writes it: lists as JSON, NULL empty, formula-like text guarded. */
function csvCells(rows: Row[], dataset: Dataset, guard: boolean): string[][] {
  const text = new Set(dataset.columns.filter(c => c.type === 'VARCHAR').map(c => c.name))
  return rows.map(r => Object.entries(r).map(([k, v]) => {
    if (Array.isArray(v)) return JSON.stringify(v)
    if (v === null) return ''
    return guard && text.has(k) && /^[=+\-@\t\r]/.test(String(v)) ? `'${v}` : String(v)
  }))
}

async function decompress(bytes: Buffer, compression: Compression, path: string): Promise<Buffer> {
  if (compression === 'gzip') return gunzipSync(bytes)
  if (compression === 'zstd') return (await run('zstd', ['-dc', path], { encoding: 'buffer', maxBuffer: 1 << 28 })).stdout
  return bytes
}

const SQL_DELIMITER: Record<string, string> = { ',': '\',\'', ';': '\';\'', '\t': '\'\\t\'', '|': '\'|\'' }

describe('CSV', () => {
  const cases: Array<[string, Choices]> = [
    ['defaults', {}],
    ['semicolons, BOM', { csv: { delimiter: ';', bom: true } }],
    ['tabs, no header', { csv: { delimiter: '\t', header: false } }],
    ['pipes, formula guard off', { csv: { delimiter: '|', formula_guard: false } }],
    ['gzip with a BOM', { compression: 'gzip', csv: { bom: true } }],
    ['zstd with a BOM, no header', { compression: 'zstd', csv: { bom: true, header: false } }],
    ['gzip, chosen columns and a limit', { compression: 'gzip', columns: ['merchant', 'amount', 'transaction_date'], limit: 500 }]
  ]

  it.each(cases)('%s: papaparse, DuckDB and pandas read what the warehouse holds', async (_name, choices) => {
    const { bytes, path, result, options } = await exportFile('csv', { ...choices, filters: RANGE })
    const csv = options.csv!
    let reference = await referenceTransactions(RANGE)
    if (choices.limit) reference = reference.slice(0, choices.limit)
    const columns = choices.columns ?? TX.columns.map(c => c.name)
    const expected = csvCells(pick(reference, columns), TX, csv.formula_guard)
    expect(result.row_count).toBe(expected.length)

    const raw = await decompress(bytes, options.compression, path)
    expect(raw.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(csv.bom)
    const text = raw.subarray(csv.bom ? 3 : 0).toString('utf8')

    // papaparse
    const parsed = Papa.parse<string[]>(text, { delimiter: csv.delimiter, skipEmptyLines: true })
    expect(parsed.errors).toEqual([])
    const body = csv.header ? parsed.data.slice(1) : parsed.data
    if (csv.header) expect(parsed.data[0]).toEqual(columns)
    // Unsorted without a limit (storage order): compare as sets; with a limit, in order.
    if (choices.limit) expect(body).toEqual(expected)
    else expect([...body].sort()).toEqual([...expected].sort())

    // DuckDB's own CSV reader, told the dialect (it also finds the BOM and the codec itself)
    const duckRows = (await duck.runAndReadAll(`SELECT * FROM read_csv('${path}', delim = ${SQL_DELIMITER[csv.delimiter]}, header = ${csv.header}, quote = '"', escape = '"', all_varchar = true)`)).getRows()
      .map(r => r.map(v => v === null ? '' : String(v)))
    expect([...duckRows].sort()).toEqual([...expected].sort())

    // pandas, as a data scientist would open it (zstd needs the zstandard module, not in Debian's pandas deps)
    if (options.compression !== 'zstd') {
      const script = `import sys, json, pandas as pd
df = pd.read_csv(sys.argv[1], sep=sys.argv[2], header=0 if sys.argv[3] == 'true' else None, dtype=str, keep_default_na=False, encoding='utf-8-sig')
print(json.dumps({'columns': [str(c) for c in df.columns], 'rows': df.values.tolist()}))`
      const { stdout } = await run(PANDAS, ['-c', script, path, csv.delimiter, String(csv.header)], { maxBuffer: 1 << 28 })
      const pandas = JSON.parse(stdout) as { columns: string[], rows: string[][] }
      if (csv.header) expect(pandas.columns).toEqual(columns)
      expect([...pandas.rows].sort()).toEqual([...expected].sort())
    }
  })

  it('the formula guard is on by default and changes only formula-like text; off, the data is verbatim', async () => {
    const guarded = Papa.parse<Record<string, string>>((await exportFile('csv')).bytes.toString('utf8'), { header: true, skipEmptyLines: true }).data
    const verbatim = Papa.parse<Record<string, string>>((await exportFile('csv', { csv: { formula_guard: false } })).bytes.toString('utf8'), { header: true, skipEmptyLines: true }).data
    expect(guarded.some(r => /^'[=+\-@]/.test(r.merchant!))).toBe(true)
    expect(verbatim.some(r => /^[=+\-@]/.test(r.merchant!))).toBe(true)
    expect(verbatim.some(r => r.merchant!.startsWith('\''))).toBe(false)
  })
})

describe('JSON and JSON Lines', () => {
  /** A JSON value as the reference's text: numbers compared as decimals, lists as lists. */
  const norm = (v: unknown): Value => v === null || v === undefined ? null : Array.isArray(v) ? v.map(norm) : typeof v === 'number' ? v : String(v)
  const numeric = (rows: Row[], dataset: Dataset) => {
    const numbers = new Set(dataset.columns.filter(c => /DECIMAL|BIGINT/.test(c.type)).map(c => c.name))
    return rows.map(r => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, numbers.has(k) && v !== null ? Number(v) : v])))
  }

  it.each([
    ['jsonl', 'none'], ['jsonl', 'gzip'], ['jsonl', 'zstd'], ['json', 'none'], ['json', 'gzip'], ['json', 'zstd']
  ] as const)('%s (%s): DuckDB read_json and JSON.parse read what the warehouse holds, with real arrays and numbers', async (format, compression) => {
    const { bytes, path, result } = await exportFile(format, { compression, filters: RANGE })
    const expected = numeric(await referenceTransactions(RANGE), TX)
    expect(result.row_count).toBe(expected.length)

    const text = (await decompress(bytes, compression, path)).toString('utf8')
    const parsed: Row[] = format === 'jsonl'
      ? text.split('\n').filter((line, i, lines) => line !== '' || i < lines.length - 1).map(line => JSON.parse(line))
      : JSON.parse(text)
    if (format === 'jsonl') {
      expect(text.endsWith('\n')).toBe(true)
      expect(text.includes('\r')).toBe(false)
    }
    expect(Array.isArray(parsed[0]!.tag_ids)).toBe(true)
    expect(typeof parsed[0]!.amount).toBe('number')
    expect(sortRows(parsed.map(r => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, norm(v)]))))).toEqual(sortRows(expected))

    const duckRows = (await duck.runAndReadAll(`SELECT * FROM read_json('${path}', format = '${format === 'jsonl' ? 'newline_delimited' : 'array'}', compression = '${compression === 'none' ? 'uncompressed' : compression}')`)).getRowObjectsJson()
    expect(sortRows(duckRows.map(r => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'amount' ? Number(v) : norm(v)]))))).toEqual(sortRows(expected))
  })

  it('JSON Lines reads in pandas', async () => {
    const { path } = await exportFile('jsonl', { dataset: MONTHLY })
    const script = `import sys, json, pandas as pd
df = pd.read_json(sys.argv[1], lines=True, dtype=False)
print(json.dumps({'columns': list(df.columns), 'months': df['month'].astype(str).tolist(), 'net': [str(v) for v in df['net']]}))`
    const { stdout } = await run(PANDAS, ['-c', script, path])
    const pandas = JSON.parse(stdout)
    const expected = await referenceMonthly()
    expect(pandas.columns).toEqual(MONTHLY.columns.map(c => c.name))
    expect(pandas.months).toEqual(expected.map(r => r.month))
    expect(pandas.net.map(Number)).toEqual(expected.map(r => Number(r.net)))
  })
})

describe('Parquet', () => {
  it.each(['zstd', 'snappy'] as const)('with %s: parquet-wasm + apache-arrow read identifiers as strings and every value as the warehouse holds it', async (codec) => {
    const { bytes, path, result } = await exportFile('parquet', { parquet_compression: codec, filters: RANGE })
    const { table, rows } = readParquetRows(bytes)
    const types = Object.fromEntries(table.schema.fields.map(f => [f.name, String(f.type)]))
    expect(types.transaction_id).toBe('Utf8')
    expect(types.account_id).toBe('Utf8')
    expect(types.tag_ids).toMatch(/^List<Utf8>$/)
    expect(types.amount).toMatch(/^Decimal/)
    expect(types.transaction_date).toMatch(/^Date/)
    const expected = await referenceTransactions(RANGE)
    expect(result.row_count).toBe(expected.length)
    expect(sortRows(rows as Row[])).toEqual(sortRows(expected))
    const codecs = await queryRows<{ c: string }>(duck, `SELECT DISTINCT compression AS c FROM parquet_metadata('${path}')`)
    expect(codecs.map(c => c.c)).toEqual([codec.toUpperCase()])
  })

  // Debian's python3-pandas comes without a Parquet engine (neither pyarrow nor fastparquet is
  // packaged), so there pandas reads no codec at all; where one is installed it reads every codec.
  const pandasParquet = spawnSync(PANDAS, ['-c', 'import pandas.io.parquet as p; p.get_engine("auto")']).status === 0

  it.each(PARQUET_COMPRESSIONS)('with %s: DuckDB, parquet-wasm + apache-arrow (and pandas where it has an engine) read the same rows; the codec is the one asked for', async (codec) => {
    const { bytes, path, result } = await exportFile('parquet', { parquet_compression: codec, filters: RANGE, columns: ['transaction_id', 'amount', 'merchant', 'tags'] })
    const expected = pick(await referenceTransactions(RANGE), ['transaction_id', 'amount', 'merchant', 'tags'])
    expect(result.row_count).toBe(expected.length)
    expect(sortRows(readParquetRows(bytes).rows as Row[])).toEqual(sortRows(expected))
    const [duckRead] = await queryRows<{ n: string, total: string }>(duck, `SELECT count(*) AS n, sum(amount)::VARCHAR AS total FROM read_parquet('${path}')`)
    const [warehouseSum] = await queryRows<{ total: string }>(duck, `SELECT sum(amount)::VARCHAR AS total FROM transactions WHERE user_id = '${user!.user_id}' AND transaction_date BETWEEN DATE '${RANGE.start_date}' AND DATE '${RANGE.end_date}'`)
    expect(duckRead).toEqual({ n: String(expected.length), total: warehouseSum!.total })
    const codecs = await queryRows<{ c: string }>(duck, `SELECT DISTINCT compression AS c FROM parquet_metadata('${path}')`)
    expect(codecs.map(c => c.c)).toEqual([{ lz4: 'LZ4_RAW' }[codec as string] ?? codec.toUpperCase()])
    if (pandasParquet) {
      const { stdout } = await run(PANDAS, ['-c', 'import sys, pandas as pd; d = pd.read_parquet(sys.argv[1]); print(len(d), d["amount"].map(str).tolist()[:3])', path])
      expect(stdout).toContain(String(expected.length))
    }
  })

  it('a filtered export reconciles with DuckDB\'s own SUM of the same condition, to the cent', async () => {
    const rowFilters: RowFilter[] = [{ column: 'amount', op: 'lt', value: -50 }, { column: 'merchant', op: 'contains', value: 'a' }, { column: 'tags', op: 'is_empty' }]
    const { path, result } = await exportFile('parquet', { filters: { ...RANGE, row_filters: rowFilters }, columns: ['amount'] })
    const [file] = await queryRows<{ n: string, total: string }>(duck, `SELECT count(*) AS n, sum(amount)::VARCHAR AS total FROM read_parquet('${path}')`)
    const [direct] = await queryRows<{ n: string, total: string }>(duck, `SELECT count(*) AS n, sum(amount)::VARCHAR AS total FROM transactions
      WHERE user_id = '${user!.user_id}' AND transaction_date BETWEEN DATE '${RANGE.start_date}' AND DATE '${RANGE.end_date}'
        AND amount < -50 AND merchant ILIKE '%a%' AND len(tag_ids) = 0`)
    expect(Number(direct!.n)).toBeGreaterThan(0)
    expect(file).toEqual(direct)
    expect(result.row_count).toBe(Number(direct!.n))
  })

  it('with chosen columns and a limit: those columns in that order, the first rows by date then id', async () => {
    const { bytes } = await exportFile('parquet', { columns: ['amount', 'transaction_id'], limit: 25 })
    const { table, rows } = readParquetRows(bytes)
    expect(table.schema.fields.map(f => f.name)).toEqual(['amount', 'transaction_id'])
    expect(rows).toEqual(pick((await referenceTransactions()).slice(0, 25), ['amount', 'transaction_id']))
  })
})

describe('Excel', () => {
  it('SheetJS and LibreOffice read typed cells equal to the warehouse: dates, money with two decimals, integers, text', async () => {
    const { bytes, path, result } = await exportFile('xlsx', { filters: RANGE })
    const expected = await referenceTransactions(RANGE)
    expect(result.row_count).toBe(expected.length)
    const columns = TX.columns.map(c => c.name)
    const textOf = (v: Value) => Array.isArray(v) ? JSON.stringify(v) : v === null ? '' : String(v)

    // SheetJS: names, frozen bold header with a filter, and each cell's type and number format.
    const book = XLSX.read(bytes, { cellDates: true, cellNF: true, cellStyles: true })
    expect(book.SheetNames).toEqual([TX.name])
    const sheet = book.Sheets[TX.name]!
    expect(sheet['!autofilter']?.ref).toBe(`A1:J1`)
    const range = XLSX.utils.decode_range(sheet['!ref']!)
    expect(range.e.r).toBe(expected.length)
    const header = columns.map((_, c) => sheet[XLSX.utils.encode_cell({ r: 0, c })]?.v)
    expect(header).toEqual(columns)
    const rows: string[][] = []
    for (let r = 1; r <= range.e.r; r++) {
      rows.push(columns.map((name, c) => {
        const cell = sheet[XLSX.utils.encode_cell({ r, c })]
        if (!cell) return ''
        if (name === 'transaction_date') {
          expect(cell.t).toBe('d')
          return (cell.v as Date).toISOString().slice(0, 10)
        }
        if (name === 'amount') {
          expect(cell.t).toBe('n')
          expect(cell.z).toBe('0.00')
          return (cell.v as number).toFixed(2)
        }
        expect(cell.t).toBe('s')
        return String(cell.v)
      }))
    }
    const expectedText = expected.map(r => columns.map(c => textOf(r[c]!)))
    expect([...rows].sort()).toEqual([...expectedText].sort())
    // Stored text is never a formula, so nothing is guarded: merchants keep their first character.
    expect(rows.some(r => /^[=+\-@]/.test(r[6]!))).toBe(true)

    // The workbook XML itself: a frozen pane below the header and a bold header style.
    const sheetXml = await unzipEntry(path, 'xl/worksheets/sheet1.xml')
    expect(sheetXml).toMatch(/<pane [^>]*ySplit="1"[^>]*state="frozen"/)
    expect(await unzipEntry(path, 'xl/styles.xml')).toMatch(/<b\/>/)

    // LibreOffice itself: its CSV shows the values as a person sees them, its flat ODS the cell types.
    const out = join(dir, 'soffice')
    const profile = await mkdtemp(join(tmpdir(), 'outport-soffice-'))
    try {
      await run('soffice', ['--headless', `-env:UserInstallation=file://${profile}`, '--convert-to', 'csv:Text - txt - csv (StarCalc):44,34,76', '--outdir', out, path], { timeout: 120_000 })
      await run('soffice', ['--headless', `-env:UserInstallation=file://${profile}`, '--convert-to', 'fods', '--outdir', out, path], { timeout: 120_000 })
    } finally {
      await rm(profile, { recursive: true, force: true })
    }
    const base = path.split('/').pop()!.replace(/\.xlsx$/, '')
    const office = Papa.parse<string[]>(await readFile(join(out, `${base}.csv`), 'utf8'), { skipEmptyLines: true }).data
    expect(office[0]).toEqual(columns)
    expect([...office.slice(1)].sort()).toEqual([...expectedText].sort())
    const fods = await readFile(join(out, `${base}.fods`), 'utf8')
    const firstRow = /<table:table-row[^>]*>([\s\S]*?)<\/table:table-row>/g
    firstRow.exec(fods)
    const dataRow = firstRow.exec(fods)![1]!
    const types = [...dataRow.matchAll(/<table:table-cell([^>]*)>/g)].map(m => /office:value-type="(\w+)"/.exec(m[1]!)?.[1] ?? 'empty')
    expect(types.slice(0, 5)).toEqual(['string', 'date', 'string', 'string', 'float'])
  }, 240_000)

  it('counts are integers and money has two decimals (monthly trends)', async () => {
    const { bytes } = await exportFile('xlsx', { dataset: MONTHLY })
    const sheet = XLSX.read(bytes, { cellDates: true, cellNF: true }).Sheets[MONTHLY.name]!
    const expected = await referenceMonthly()
    const got = expected.map((_, i) => ({
      month: (sheet[`A${i + 2}`].v as Date).toISOString().slice(0, 10),
      income: sheet[`B${i + 2}`].v.toFixed(2),
      spending: sheet[`C${i + 2}`].v.toFixed(2),
      net: sheet[`D${i + 2}`].v.toFixed(2),
      transaction_count: String(sheet[`E${i + 2}`].v)
    }))
    expect(got).toEqual(expected.map(r => ({ ...r, income: r.income ?? '0.00' })))
    expect(sheet.E2.t).toBe('n')
    expect(Number.isInteger(sheet.E2.v)).toBe(true)
    expect(sheet.E2.z).toBe('0')
    expect(sheet.B2.z).toBe('0.00')
  })

  it('a run that reaches the sheet\'s row limit fails as TOO_MANY_ROWS instead of writing a workbook Excel cannot open', async () => {
    const metadata: ExportMetadata = {
      dataset_id: TX.id, dataset_name: TX.name, format: 'xlsx',
      filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] },
      ...resolveExportOptions({ format: 'xlsx' })
    }
    const columns = outputColumns(TX, projectionFor(metadata))
    const sql = exportQuery(TX, user!.user_id, metadata)
    const file = join(dir, 'limit.xlsx')
    await expect(writeXlsx(duck, sql, columns, file, { sheetName: TX.name, maxRows: 5_000 }))
      .rejects.toMatchObject({ code: 'TOO_MANY_ROWS', retryable: false })
    // Just under the limit the same rows are written.
    expect(await writeXlsx(duck, sql, columns, file, { sheetName: TX.name, maxRows: 8_000 })).toBe(8_000)
  })

  it('a file that cannot be written fails the run instead of leaving it waiting', async () => {
    const metadata: ExportMetadata = {
      dataset_id: TX.id, dataset_name: TX.name, format: 'xlsx',
      filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] },
      ...resolveExportOptions({ format: 'xlsx' })
    }
    const write = writeXlsx(duck, exportQuery(TX, user!.user_id, metadata), outputColumns(TX, projectionFor(metadata)), join(dir, 'missing', 'book.xlsx'), { sheetName: TX.name })
    await expect(write).rejects.toThrow(/ENOENT/)
  }, 20_000)
})

describe('daily spending by tag', () => {
  it('JSON Lines carries the same rows as CSV, in the dataset\'s order', async () => {
    const csv = Papa.parse<Record<string, string>>((await exportFile('csv', { dataset: DAILY, filters: RANGE })).bytes.toString('utf8'), { header: true, skipEmptyLines: true }).data
    const jsonl = (await exportFile('jsonl', { dataset: DAILY, filters: RANGE })).bytes.toString('utf8').trim().split('\n').map(l => JSON.parse(l))
    expect(jsonl.map(r => [r.date, r.tag_id, r.spending.toFixed(2), String(r.transaction_count)]))
      .toEqual(csv.map(r => [r.date, r.tag_id, r.spending, r.transaction_count]))
  })
})

async function unzipEntry(path: string, entry: string): Promise<string> {
  return (await run('unzip', ['-p', path, entry], { maxBuffer: 1 << 28 })).stdout
}
