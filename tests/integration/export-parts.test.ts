import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import { gunzipSync } from 'node:zlib'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import type { DuckDBConnection } from '@duckdb/node-api'
import Papa from 'papaparse'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '#server/lib/config'
import type { ExportJob } from '#server/lib/exports/jobs/record'
import { removeExportObjects } from '#server/lib/exports/orphans'
import { exportPrefix, runExport, type ExportRunOptions } from '#server/lib/exports/run'
import { exportZip, isMultiPart } from '#server/lib/exports/zip'
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '#server/lib/local/s3rver'
import { createStorage, listObjects, type Storage } from '#server/lib/storage/s3'
import { DATASETS, type Dataset } from '#server/lib/warehouse/datasets'
import { buildWarehouse, planDemo } from '#server/lib/warehouse/demo'
import { WarehouseReader } from '#server/lib/warehouse/reader'
import { resolveExportOptions, type CsvOptions, type ExportManifest, type ExportMetadata, type ExportResult } from '#shared/types/exports'
import { fileExtension, type Compression, type ExportFormat, type ParquetCompression } from '#shared/types/formats'
import type { RowFilter } from '#shared/types/row-filters'
import { readParquetRows } from '../helpers/readers'
import { freePort } from '../helpers/server'

const run = promisify(execFile)

/**
 * Exports in parts (issue 27), against a warehouse of ~35,000 rows split at the API's smallest
 * part (10,000 rows): every format, compressed or not, with and without a header, re-joined equals
 * the same export as one file row for row, each part read on its own by a reader that is not ours;
 * the manifest's checksums are the objects'; the work disk never holds more than two parts; the
 * ZIP opens with Info-ZIP's unzip and holds the parts byte for byte; a failed or cancelled run and
 * a delete leave no object.
 */
const [TX] = DATASETS as [Dataset]
const ROWS_PER_PART = 10_000
const MiB = 1024 * 1024

let dir: string
let s3: S3rverHandle
let storage: Storage
let warehouse: WarehouseReader
let duck: DuckDBConnection
const [user] = planDemo({ users: 1, transactions: 36_000, seed: 27 })
let jobSeq = 0

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outport-parts-'))
  s3 = await startS3rver({ directory: join(dir, 's3'), port: await freePort(), buckets: ['parts-test'] })
  storage = createStorage(loadConfig({
    DATABASE_URL: 'postgresql://unused', S3_EXPORTS_BUCKET: 'parts-test', S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey
  }))
  await buildWarehouse(join(dir, 'warehouse.duckdb'), [user!], 27)
  warehouse = new WarehouseReader(join(dir, 'warehouse.duckdb'))
  duck = await warehouse.connect()
}, 120_000)
afterAll(async () => {
  duck?.closeSync()
  warehouse?.close()
  await s3?.stop()
  await rm(dir, { recursive: true, force: true })
})

interface Choices {
  compression?: Compression
  csv?: Partial<CsvOptions>
  parquet_compression?: ParquetCompression
  max_part_rows?: number
  max_part_mb?: number
  row_filters?: RowFilter[]
}

async function getObject(key: string): Promise<Buffer> {
  const object = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }))
  return Buffer.from(await object.Body!.transformToByteArray())
}

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = []
  for await (const page of listObjects(storage, prefix)) keys.push(...page.map(o => o.key))
  return keys.sort()
}

function metadataFor(format: ExportFormat, choices: Choices): ExportMetadata {
  const { max_part_rows, max_part_mb, row_filters, ...file } = choices
  return {
    dataset_id: TX.id,
    dataset_name: TX.name,
    format,
    filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [], ...(row_filters && { row_filters }) },
    ...resolveExportOptions({ format, ...file }),
    ...(max_part_rows && { max_part_rows }),
    ...(max_part_mb && { max_part_mb })
  }
}

async function runJob(metadata: ExportMetadata, extra: Partial<ExportRunOptions> = {}) {
  const id = `00000000-0000-4000-8000-${String(++jobSeq).padStart(12, '0')}`
  const claimId = `10000000-0000-4000-8000-${String(jobSeq).padStart(12, '0')}`
  const workBytes: number[] = []
  const result = await runExport({ id, userId: user!.user_id, metadata, claimId }, {
    warehouse, storage, workDir: join(dir, 'work'), signal: new AbortController().signal, onProgress: () => {},
    onWorkBytes: bytes => workBytes.push(bytes),
    ...extra
  })
  return { id, claimId, result, workBytes }
}

async function decompress(bytes: Buffer, compression: Compression): Promise<Buffer> {
  if (compression === 'gzip') return gunzipSync(bytes)
  if (compression === 'zstd') {
    const path = join(dir, `z-${createHash('sha1').update(bytes).digest('hex')}.zst`)
    await writeFile(path, bytes)
    return (await run('zstd', ['-dc', path], { encoding: 'buffer', maxBuffer: 1 << 28 })).stdout
  }
  return bytes
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf])

/** One file's rows as its own reader sees them (the header checked here, not returned). */
async function readRows(format: ExportFormat, bytes: Buffer, metadata: ExportMetadata, name: string): Promise<unknown[]> {
  const options = resolveExportOptions(metadata)
  const raw = await decompress(bytes, options.compression)
  if (format === 'csv') {
    const csv = options.csv!
    expect(raw.subarray(0, 3).equals(BOM)).toBe(csv.bom)
    const parsed = Papa.parse<string[]>(raw.subarray(csv.bom ? 3 : 0).toString('utf8'), { delimiter: csv.delimiter, skipEmptyLines: true })
    expect(parsed.errors).toEqual([])
    if (!csv.header) return parsed.data
    expect(parsed.data[0]).toEqual(TX.columns.map(c => c.name))
    return parsed.data.slice(1)
  }
  if (format === 'json') {
    const rows = JSON.parse(raw.toString('utf8')) as unknown[]
    expect(Array.isArray(rows)).toBe(true)
    return rows
  }
  if (format === 'jsonl') return raw.toString('utf8').split('\n').filter(Boolean).map(line => JSON.parse(line) as unknown)
  if (format === 'parquet') {
    // DuckDB reads it too: a part is a Parquet file of its own, with its own footer.
    const path = join(dir, `${name}.parquet`)
    await writeFile(path, raw)
    const count = Number((await duck.runAndReadAll(`SELECT count(*) AS n FROM read_parquet('${path}')`)).getRowObjectsJson()[0]!.n)
    const rows = readParquetRows(raw).rows
    expect(rows).toHaveLength(count)
    return rows
  }
  // Excel: LibreOffice opens each workbook and saves its sheet as CSV.
  const path = join(dir, `${name}.xlsx`)
  await writeFile(path, raw)
  const out = join(dir, 'soffice')
  const profile = await mkdtemp(join(tmpdir(), 'outport-soffice-'))
  try {
    await run('soffice', ['--headless', `-env:UserInstallation=file://${profile}`, '--convert-to', 'csv:Text - txt - csv (StarCalc):44,34,76', '--outdir', out, path], { timeout: 120_000 })
  } finally {
    await rm(profile, { recursive: true, force: true })
  }
  const office = Papa.parse<string[]>(await readFile(join(out, `${name}.csv`), 'utf8'), { skipEmptyLines: true }).data
  expect(office[0]).toEqual(TX.columns.map(c => c.name))
  return office.slice(1)
}

/** The manifest matches the objects: every part's bytes and SHA-256, the totals, the job's checksum. */
async function checkManifest(result: ExportResult, id: string, metadata: ExportMetadata): Promise<{ manifest: ExportManifest, parts: Buffer[] }> {
  expect(result.parts?.length).toBeGreaterThan(1)
  const manifestBytes = await getObject(result.s3_key)
  expect(createHash('sha256').update(manifestBytes).digest('hex')).toBe(result.checksum_sha256)
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as ExportManifest
  const ext = fileExtension(metadata.format, metadata.compression ?? 'none')
  expect(manifest).toMatchObject({ job_id: id, dataset: TX.name, format: metadata.format, compression: metadata.compression ?? 'none', row_count: result.row_count, bytes: result.file_size_bytes })
  expect(Date.parse(manifest.created_at)).not.toBeNaN()
  const parts = await Promise.all(result.parts!.map(part => getObject(part.key)))
  manifest.parts.forEach((part, i) => {
    expect(part.filename).toBe(`${TX.name}_all_dates_part-${String(i + 1).padStart(4, '0')}.${ext}`)
    expect(part.bytes).toBe(parts[i]!.length)
    expect(part.checksum_sha256).toBe(createHash('sha256').update(parts[i]!).digest('hex'))
    expect(result.parts![i]).toMatchObject(part)
  })
  expect(manifest.parts.reduce((sum, p) => sum + p.rows, 0)).toBe(result.row_count)
  expect(manifest.parts.reduce((sum, p) => sum + p.bytes, 0)).toBe(result.file_size_bytes)
  return { manifest, parts }
}

describe('parts re-joined equal the single file', () => {
  const cases: Array<[ExportFormat, Choices]> = [
    ['csv', {}],
    ['csv', { csv: { header: false, delimiter: ';' } }],
    ['csv', { compression: 'gzip', csv: { bom: true } }],
    ['csv', { compression: 'zstd', csv: { header: false, bom: true } }],
    ['json', {}],
    ['json', { compression: 'gzip' }],
    ['jsonl', { compression: 'zstd' }],
    ['jsonl', {}],
    ['parquet', { parquet_compression: 'snappy' }],
    ['parquet', {}],
    ['xlsx', {}],
    // Sliced on the transactions table (a condition on it), and on the output (one on a joined column).
    ['csv', { row_filters: [{ column: 'amount', op: 'lt', value: 0 }] }],
    ['jsonl', { row_filters: [{ column: 'account_name', op: 'contains', value: 'a' }] }]
  ]

  it.each(cases)('%s %j', async (format, choices) => {
    const single = await runJob(metadataFor(format, choices))
    const singleRows = await readRows(format, await getObject(single.result.s3_key), metadataFor(format, choices), `single-${single.id}`)

    const metadata = metadataFor(format, { ...choices, max_part_rows: ROWS_PER_PART })
    const { id, claimId, result, workBytes } = await runJob(metadata)
    expect(result.s3_key).toBe(`${exportPrefix(user!.user_id, id)}/${claimId}/manifest.json`)
    const { manifest, parts } = await checkManifest(result, id, metadata)
    expect(manifest.parts.map(p => p.rows)).toEqual([...Array(Math.ceil(singleRows.length / ROWS_PER_PART)).keys()]
      .map(i => Math.min(ROWS_PER_PART, singleRows.length - i * ROWS_PER_PART)))
    const joined: unknown[] = []
    for (const [i, part] of parts.entries()) {
      const rows = await readRows(format, part, metadata, `part-${id}-${i + 1}`)
      expect(rows).toHaveLength(manifest.parts[i]!.rows)
      joined.push(...rows)
    }
    // Row for row, in order: the slices follow the single file's order.
    expect(joined).toEqual(singleRows)
    expect(result.row_count).toBe(single.result.row_count)
    // At most two parts on the work disk at any time.
    const largest = Math.max(...manifest.parts.map(p => p.bytes))
    expect(workBytes.length).toBe(parts.length)
    expect(Math.max(...workBytes)).toBeLessThanOrEqual(2 * largest + 8 * MiB)
    expect(await readdir(join(dir, 'work'))).toEqual([])
  }, 300_000)
})

describe('parts by size', () => {
  it('no part is over max_part_mb, and the parts hold every row once', async () => {
    // An 8 MiB limit (the API's smallest) on a JSON export of ~36,000 rows (~13 MB): two parts or more.
    const metadata = metadataFor('json', { max_part_mb: 8 })
    const single = await runJob(metadataFor('json', {}))
    const singleRows = JSON.parse((await getObject(single.result.s3_key)).toString('utf8')) as unknown[]
    expect(single.result.file_size_bytes).toBeGreaterThan(8 * MiB)
    const { id, result, workBytes } = await runJob(metadata)
    const { manifest, parts } = await checkManifest(result, id, metadata)
    for (const part of manifest.parts) expect(part.bytes).toBeLessThanOrEqual(8 * MiB)
    expect(parts.flatMap(part => JSON.parse(part.toString('utf8')) as unknown[])).toEqual(singleRows)
    expect(Math.max(...workBytes)).toBeLessThanOrEqual(2 * 8 * MiB + 8 * MiB)
  }, 120_000)
})

describe('the ZIP of a multi-part export', () => {
  it('opens with unzip, and its entries are the parts and the manifest byte for byte', async () => {
    const metadata = metadataFor('csv', { compression: 'gzip', max_part_rows: ROWS_PER_PART })
    const { id, result } = await runJob(metadata)
    const job = { id, userId: user!.user_id, status: 'completed', completedAt: new Date(), metadata: { ...metadata, ...result } } as unknown as ExportJob
    expect(isMultiPart(job)).toBe(true)
    const zipPath = join(dir, `${id}.zip`)
    await pipeline(exportZip(storage, job as Parameters<typeof exportZip>[1], new AbortController().signal), createWriteStream(zipPath))
    const { stdout } = await run('unzip', ['-t', zipPath])
    expect(stdout).toMatch(/No errors detected/)
    const out = join(dir, `unzipped-${id}`)
    await mkdir(out)
    await run('unzip', ['-q', zipPath, '-d', out])
    const names = [...result.parts!.map(p => p.filename), `${TX.name}_all_dates_manifest.json`]
    expect((await readdir(out)).sort()).toEqual([...names].sort())
    for (const part of result.parts!) expect((await readFile(join(out, part.filename))).equals(await getObject(part.key))).toBe(true)
    expect((await readFile(join(out, names.at(-1)!))).equals(await getObject(result.s3_key))).toBe(true)
    // Stored, not recompressed: unzip -v lists each entry's method.
    const listing = (await run('unzip', ['-v', zipPath])).stdout
    expect(listing).not.toMatch(/Defl/)
    expect(listing).toMatch(/Stored/)
  }, 120_000)

  it('stops reading from S3 when the client goes away', async () => {
    const metadata = metadataFor('csv', { max_part_rows: ROWS_PER_PART })
    const { id, result } = await runJob(metadata)
    const job = { id, userId: user!.user_id, status: 'completed', completedAt: new Date(), metadata: { ...metadata, ...result } } as unknown as ExportJob
    const gone = new AbortController()
    const zip = exportZip(storage, job as Parameters<typeof exportZip>[1], gone.signal)
    let read = 0
    const ended = new Promise<unknown>((resolve) => {
      zip.on('error', resolve)
      zip.on('end', () => resolve('end'))
    })
    zip.on('data', (chunk: Buffer) => {
      read += chunk.length
      if (read > 64 * 1024 && !gone.signal.aborted) gone.abort()
    })
    const outcome = await ended
    expect(outcome).not.toBe('end')
    expect(read).toBeLessThan(result.file_size_bytes)
  }, 60_000)
})

describe('no partial set is left behind', () => {
  it('a cancel after some parts were uploaded removes them, and the work files', async () => {
    const metadata = metadataFor('csv', { max_part_rows: ROWS_PER_PART })
    const cancel = new AbortController()
    const id = `00000000-0000-4000-8000-${String(++jobSeq).padStart(12, '0')}`
    let parts = 0
    const running = runExport({ id, userId: user!.user_id, metadata, claimId: '20000000-0000-4000-8000-000000000001' }, {
      warehouse, storage, workDir: join(dir, 'work'), signal: cancel.signal, onProgress: () => {},
      // After the second part is written, the first has been uploaded.
      onWorkBytes: () => {
        if (++parts === 3) cancel.abort()
      }
    })
    await expect(running).rejects.toThrow(/cancel/i)
    // What the run committed goes before it returns.
    expect(await keysUnder(exportPrefix(user!.user_id, id))).toEqual([])
    expect(await readdir(join(dir, 'work'))).toEqual([])
  }, 60_000)

  it('a failed part upload fails the run and removes the parts already committed', async () => {
    const metadata = metadataFor('csv', { max_part_rows: ROWS_PER_PART })
    let uploads = 0
    const failing = {
      ...storage,
      client: Object.assign(Object.create(storage.client) as typeof storage.client, {
        send: (command: { constructor: { name: string } }, ...rest: unknown[]) => {
          if (command.constructor.name === 'PutObjectCommand' || command.constructor.name === 'CreateMultipartUploadCommand') {
            if (++uploads === 3) return Promise.reject(Object.assign(new Error('S3 is down'), { $metadata: { httpStatusCode: 503 } }))
          }
          return (storage.client.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest)
        }
      })
    } as Storage
    const id = `00000000-0000-4000-8000-${String(++jobSeq).padStart(12, '0')}`
    await expect(runExport({ id, userId: user!.user_id, metadata, claimId: '20000000-0000-4000-8000-000000000002' }, {
      warehouse, storage: failing, workDir: join(dir, 'work'), signal: new AbortController().signal, onProgress: () => {}
    })).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' })
    expect(await keysUnder(exportPrefix(user!.user_id, id))).toEqual([])
  }, 60_000)

  it('deleting the export removes every part and the manifest', async () => {
    const metadata = metadataFor('parquet', { max_part_rows: ROWS_PER_PART })
    const { id, result } = await runJob(metadata)
    const prefix = exportPrefix(user!.user_id, id)
    expect(await keysUnder(prefix)).toHaveLength(result.parts!.length + 1)
    await removeExportObjects(storage, { id, userId: user!.user_id, metadata: { ...metadata, ...result } })
    expect(await keysUnder(prefix)).toEqual([])
  }, 60_000)
})
