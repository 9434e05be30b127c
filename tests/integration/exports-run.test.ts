import { createHash } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '#server/lib/config'
import { WarehouseReader } from '#server/lib/warehouse/reader'
import { ExportCancelled, ExportFailure } from '#server/lib/exports/errors'
import { exportKey, runExport, type ExportRunOptions } from '#server/lib/exports/run'
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '#server/lib/local/s3rver'
import { createStorage, type Storage } from '#server/lib/storage/s3'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { buildWarehouse, planDemo } from '#server/lib/warehouse/demo'
import { openWarehouse } from '#server/lib/warehouse/duckdb'
import type { ExportMetadata, ExportProgress } from '#shared/types/exports'
import type { ExportFormat } from '#shared/types/formats'
import { inlineUploader, type Uploader } from '#server/lib/storage/uploader'
import { startFaultProxy } from '../helpers/proxy'
import { startUploadThread } from '../helpers/upload-thread'
import { freePort } from '../helpers/server'
import { parseCsv, readParquetRows } from '../helpers/readers'

/**
 * The export runner on its own: real DuckDB, a real S3-compatible server, no Nuxt. The upload runs
 * on the calling thread (development) and on the upload thread (the built server).
 */
describe.each(['this thread', 'the upload thread'] as const)('runExport, uploading on %s', (where) => {
  let uploader: Uploader & { remove?: () => Promise<void> }
  let dir: string
  let s3: S3rverHandle
  let storage: Storage
  let warehouse: WarehouseReader
  const [user] = planDemo({ users: 1, transactions: 200_000, seed: 3 })

  const metadata = (format: ExportFormat): ExportMetadata => ({
    dataset_id: DATASETS[0]!.id,
    dataset_name: DATASETS[0]!.name,
    format,
    filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }
  })

  function options(overrides: Partial<ExportRunOptions> = {}): ExportRunOptions & { progress: ExportProgress[] } {
    const progress: ExportProgress[] = []
    return { warehouse, storage, uploader, workDir: join(dir, 'work'), signal: new AbortController().signal, onProgress: p => progress.push(p), progress, ...overrides }
  }

  async function objectKeys(): Promise<string[]> {
    const listing = await storage.client.send(new ListObjectsV2Command({ Bucket: storage.bucket }))
    return (listing.Contents ?? []).map(o => o.Key!)
  }

  beforeAll(async () => {
    uploader = where === 'this thread' ? inlineUploader : await startUploadThread()
    dir = await mkdtemp(join(tmpdir(), 'outport-run-'))
    s3 = await startS3rver({ directory: join(dir, 's3'), port: await freePort(), buckets: ['run-test'] })
    storage = createStorage(loadConfig({
      DATABASE_URL: 'postgresql://unused', S3_EXPORTS_BUCKET: 'run-test', S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey
    }))
    await buildWarehouse(join(dir, 'warehouse.duckdb'), [user!], 3)
    warehouse = new WarehouseReader(join(dir, 'warehouse.duckdb'))
  })
  afterAll(async () => {
    await uploader?.remove?.()
    warehouse?.close()
    await s3?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it.each(['csv', 'parquet'] as const)('streams a %s file to S3 whose bytes, size, checksum and rows match', async (format) => {
    const opts = options()
    const result = await runExport({ id: `00000000-0000-4000-8000-00000000000${format === 'csv' ? 1 : 2}`, userId: user!.user_id, metadata: metadata(format) }, opts)
    expect(result.row_count).toBe(200_000)
    const object = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: result.s3_key }))
    const bytes = await object.Body!.transformToByteArray()
    expect(bytes.byteLength).toBe(result.file_size_bytes)
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(result.checksum_sha256)
    const rows = format === 'csv' ? parseCsv(new TextDecoder().decode(bytes)).rows.length : readParquetRows(bytes).rows.length
    expect(rows).toBe(200_000)
    expect(opts.progress[0]!.phase).toBe('querying')
    expect(opts.progress.at(-1)).toMatchObject({ phase: 'finalizing', rows: 200_000, bytes_uploaded: result.file_size_bytes })
    expect(await readdir(join(dir, 'work'))).toEqual([])
  })

  it('fails with QUERY_FAILED, uploads nothing and leaves no temp file when the query cannot run', async () => {
    // A warehouse whose transactions table lacks a column the dataset needs.
    const broken = join(dir, 'broken.duckdb')
    const instance = await openWarehouse(broken, { readOnly: false })
    const connection = await instance.connect()
    await connection.run('CREATE TABLE transactions (transaction_id UUID, user_id UUID); CREATE TABLE accounts (account_id UUID, user_id UUID, name VARCHAR); CREATE TABLE tags (tag_id UUID, user_id UUID, name VARCHAR)')
    connection.closeSync()
    instance.closeSync()
    const before = await objectKeys()
    const reader = new WarehouseReader(broken)
    try {
      const error = await runExport({ id: '00000000-0000-4000-8000-000000000003', userId: user!.user_id, metadata: metadata('csv') }, options({ warehouse: reader })).catch(e => e)
      expect(error).toBeInstanceOf(ExportFailure)
      expect(error).toMatchObject({ code: 'QUERY_FAILED', retryable: false })
    } finally {
      reader.close()
    }
    expect(await objectKeys()).toEqual(before)
    expect(await readdir(join(dir, 'work'))).toEqual([])
  })

  it('fails with STORAGE_UNAVAILABLE when S3 is unreachable, leaving no temp file behind', async () => {
    const deadStorage = createStorage(loadConfig({
      DATABASE_URL: 'postgresql://unused', S3_EXPORTS_BUCKET: 'run-test', S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER'
    }))
    const error = await runExport({ id: '00000000-0000-4000-8000-000000000004', userId: user!.user_id, metadata: metadata('csv') }, options({ storage: deadStorage })).catch(e => e)
    expect(error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true })
    expect(await readdir(join(dir, 'work'))).toEqual([])
  })

  it('stops within a second when cancelled mid-export and leaves nothing in S3', async () => {
    const before = await objectKeys()
    const controller = new AbortController()
    const opts = options({ signal: controller.signal })
    const first = opts.onProgress
    let abortedAt = 0
    opts.onProgress = (p) => {
      first(p)
      if (!abortedAt && p.phase === 'querying') {
        abortedAt = performance.now()
        setTimeout(() => controller.abort(), 50)
      }
    }
    const error = await runExport({ id: '00000000-0000-4000-8000-000000000005', userId: user!.user_id, metadata: metadata('csv') }, opts).catch(e => e)
    expect(error).toBeInstanceOf(ExportCancelled)
    expect(performance.now() - abortedAt).toBeLessThan(1000)
    expect(await objectKeys()).toEqual(before)
    expect(await readdir(join(dir, 'work'))).toEqual([])
  })

  it('gives up on a storage server that accepts connections but never answers, as a retryable failure', async () => {
    const proxy = await startFaultProxy(s3.port, { mode: 'stall' })
    try {
      const stalled = createStorage(loadConfig({
        DATABASE_URL: 'postgresql://unused', S3_EXPORTS_BUCKET: 'run-test', S3_ENDPOINT: proxy.endpoint, S3_IDLE_TIMEOUT_SECONDS: '1',
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey
      }))
      const started = performance.now()
      const failure = await runExport({ id: '00000000-0000-4000-8000-000000000009', userId: user!.user_id, metadata: metadata('csv') }, options({ storage: stalled })).catch(e => e)
      expect(failure).toBeInstanceOf(ExportFailure)
      expect(failure).toMatchObject({ code: 'STORAGE_UNAVAILABLE', retryable: true })
      // The SDK's own attempts, each cut after 1 s without bytes, not an indefinite hang.
      expect(performance.now() - started).toBeLessThan(15_000)
      expect(await readdir(join(dir, 'work'))).toEqual([])
    } finally {
      await proxy.close()
    }
  }, 30_000)

  it('opens a fresh DuckDB instance after discard(), so a wedged one cannot stall later exports', async () => {
    const reader = new WarehouseReader(join(dir, 'warehouse.duckdb'))
    try {
      const first = await reader.connect()
      await first.run('SET GLOBAL threads = 3')
      first.closeSync()
      const same = await reader.connect()
      expect((await same.runAndReadAll('SELECT current_setting(\'threads\')::INT AS t')).getRowObjectsJson()).toEqual([{ t: 3 }])
      same.closeSync()
      reader.discard()
      const fresh = await reader.connect()
      expect((await fresh.runAndReadAll('SELECT current_setting(\'threads\')::INT AS t')).getRowObjectsJson()).not.toEqual([{ t: 3 }])
      fresh.closeSync()
    } finally {
      reader.close()
    }
  })

  it.each([['multipart', 0], ['single PutObject', 2]] as const)('a run that lost its claim (%s) neither overwrites nor deletes the winner\'s object', async (_kind, dataset) => {
    const id = `00000000-0000-4000-8000-00000000001${dataset}`
    const job = { id, userId: user!.user_id, claimId: '11111111-1111-4111-8111-111111111111', metadata: { ...metadata('csv'), dataset_id: DATASETS[dataset]!.id, dataset_name: DATASETS[dataset]!.name } }
    const key = exportKey(user!.user_id, id, 'csv')
    await storage.client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: 'the winner\'s file' }))
    let asked = 0
    const failure = await runExport(job, options({ fence: async () => (++asked, false) })).catch(e => e)
    expect(failure).toBeInstanceOf(ExportCancelled)
    // Asked before the commit and not again before a delete: the object is someone else's.
    expect(asked).toBe(1)
    const object = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }))
    expect(await object.Body!.transformToString()).toBe('the winner\'s file')
    expect(await readdir(join(dir, 'work'))).toEqual([])
  })

  it.each([['multipart', 0], ['single PutObject', 2]] as const)('a run frozen past its fence check (%s) commits its own object, never over the winner\'s', async (_kind, dataset) => {
    const id = `00000000-0000-4000-8000-00000000004${dataset}`
    const winner = exportKey(user!.user_id, id, 'csv', 'none', '44444444-4444-4444-8444-444444444444')
    await storage.client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: winner, Body: 'the winner\'s file' }))
    // Its fence said yes; the other run took over and completed while it was frozen after that.
    const job = { id, userId: user!.user_id, claimId: '55555555-5555-4555-8555-555555555555', metadata: { ...metadata('csv'), dataset_id: DATASETS[dataset]!.id, dataset_name: DATASETS[dataset]!.name } }
    const result = await runExport(job, options({ fence: async () => true }))
    expect(result.s3_key).toBe(`exports/${user!.user_id}/${id}/${job.claimId}.csv`)
    const object = await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: winner }))
    expect(await object.Body!.transformToString()).toBe('the winner\'s file')
  })

  it('names each attempt\'s work file after its claim, so two runs of one job never share a file', async () => {
    const id = '00000000-0000-4000-8000-000000000020'
    const seen: string[] = []
    const job = { id, userId: user!.user_id, claimId: '22222222-2222-4222-8222-222222222222', metadata: metadata('parquet') }
    await runExport(job, options({ onProgress: () => void readdir(join(dir, 'work')).then(files => seen.push(...files)) }))
    expect(seen.length).toBeGreaterThan(0)
    expect(new Set(seen)).toEqual(new Set([`${id}.${job.claimId}.parquet`]))
  })

  it.runIf(where === 'the upload thread')('an upload thread that dies fails the export as retryable, and the next export gets a new thread', async () => {
    const opts = options()
    let killed = false
    opts.onProgress = () => {
      if (!killed) void uploader.close()
      killed = true
    }
    const failure = await runExport({ id: '00000000-0000-4000-8000-000000000030', userId: user!.user_id, metadata: metadata('csv') }, opts).catch(e => e)
    expect(failure).toMatchObject({ code: 'TEMPORARY_FAILURE', retryable: true })
    expect(await readdir(join(dir, 'work'))).toEqual([])
    const result = await runExport({ id: '00000000-0000-4000-8000-000000000031', userId: user!.user_id, metadata: metadata('csv') }, options())
    expect(result.row_count).toBe(200_000)
  })
})
