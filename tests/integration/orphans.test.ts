import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '#server/lib/config'
import { createAppContext, type AppContext } from '#server/lib/context'
import { cancelExport } from '#server/lib/exports/cancel'
import { deleteExport } from '#server/lib/exports/delete'
import { claimJobs, completeJob } from '#server/lib/exports/jobs/queue'
import type { ExportJob } from '#server/lib/exports/jobs/record'
import { createExportJob } from '#server/lib/exports/jobs/submit'
import { sweepOrphans } from '#server/lib/exports/orphans'
import { exportKey, exportPartKey } from '#server/lib/exports/run'
import { ExportWorker } from '#server/lib/exports/worker'
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '#server/lib/local/s3rver'
import { Metrics } from '#server/lib/metrics'
import { createStorage, type Storage } from '#server/lib/storage/s3'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { buildWarehouse, planDemo } from '#server/lib/warehouse/demo'
import type { ExportMetadata } from '#shared/types/exports'
import type { Compression } from '#shared/types/formats'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { waitFor } from '../helpers/faults'
import { startRecordingProxy, type RecordingProxy } from '../helpers/proxy'
import { freePort } from '../helpers/server'

/** Indexes into DATASETS: a transactions export is a multipart upload, a monthly one a single PutObject. */
const TRANSACTIONS = 0
const MONTHLY = 2

/**
 * Objects a cancelled or deleted export must not leave in S3: the deletes of the API, a run whose
 * commit lands after its job ended, and the hourly sweep for what both missed. Real PostgreSQL,
 * DuckDB and s3rver; the worker's S3 traffic passes a proxy that can hold commits on the wire.
 */
describe('export objects that outlive their job', () => {
  let dir: string
  let database: TestDatabase
  let s3: S3rverHandle
  let proxy: RecordingProxy
  let ctx: AppContext
  /** s3rver directly, not through the proxy: what the API process uses. */
  let storage: Storage
  const [user] = planDemo({ users: 1, transactions: 150_000, seed: 7 })
  const userId = () => user!.user_id

  const metadata = (dataset: number, compression: Compression = 'none'): ExportMetadata => ({
    dataset_id: DATASETS[dataset]!.id,
    dataset_name: DATASETS[dataset]!.name,
    format: 'csv',
    compression,
    filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }
  })

  async function keys(prefix = 'exports/'): Promise<string[]> {
    const listing = await storage.client.send(new ListObjectsV2Command({ Bucket: storage.bucket, Prefix: prefix }))
    return (listing.Contents ?? []).map(o => o.Key!).sort()
  }
  const keysOf = (job: Pick<ExportJob, 'id'>) => keys(`exports/${userId()}/${job.id}`)
  const put = (key: string) => storage.client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: 'a,b\n1,2\n' }))

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outport-orphans-'))
    database = await createTestDatabase()
    s3 = await startS3rver({ directory: join(dir, 's3'), port: await freePort(), buckets: ['orphans-test'] })
    proxy = await startRecordingProxy(s3.port)
    await buildWarehouse(join(dir, 'warehouse.duckdb'), [user!], 7)
    const env = {
      DATABASE_URL: database.url, S3_EXPORTS_BUCKET: 'orphans-test',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      WAREHOUSE_PATH: join(dir, 'warehouse.duckdb'), EXPORT_WORK_DIR: join(dir, 'work'), DUCKDB_THREADS: '1'
    }
    ctx = createAppContext(loadConfig({ ...env, S3_ENDPOINT: proxy.endpoint }))
    storage = createStorage(loadConfig({ ...env, S3_ENDPOINT: s3.endpoint }))
    await ctx.db.user.create({ data: { id: userId(), email: 'o@example.com', passwordHash: 'x', displayName: 'O' } })
  })
  afterAll(async () => {
    await proxy?.release()
    await ctx?.close()
    await database?.drop()
    await proxy?.close()
    await s3?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  describe('without a worker', () => {
    /** A job claimed as a worker would, its attempt's object already in S3 (the upload finished). */
    async function runningWithObject(compression: Compression) {
      const job = await createExportJob(ctx.db, userId(), metadata(MONTHLY, compression))
      const [claimed] = await claimJobs(ctx.db, 'test', 1, 60_000)
      expect(claimed!.id).toBe(job.id)
      const key = exportKey(userId(), job.id, 'csv', compression, claimed!.claimId)
      await put(key)
      return { job, claimed: claimed!, key }
    }

    it.each(['none', 'gzip', 'zstd'] as const)('deleting a running %s export removes the object its attempt wrote, and one a run before per-attempt keys wrote', async (compression) => {
      const { job, key } = await runningWithObject(compression)
      // Where a run of this job wrote before each attempt had its own key: the same name, compressed.
      const legacy = exportKey(userId(), job.id, 'csv', compression)
      await put(legacy)
      expect(await keysOf(job)).toEqual([legacy, key].sort())
      const { job: deleted, cancelled } = await deleteExport(ctx.db, storage, userId(), job.id)
      expect({ status: deleted.status, cancelled }).toEqual({ status: 'deleted', cancelled: true })
      expect(await keysOf(job)).toEqual([])
    })

    it('cancelling a running export removes what its attempt already committed', async () => {
      const { job } = await runningWithObject('gzip')
      const { job: cancelled, previous } = await cancelExport(ctx.db, storage, userId(), job.id)
      expect({ status: cancelled.status, previous }).toEqual({ status: 'cancelled', previous: 'running' })
      expect(await keysOf(job)).toEqual([])
    })

    it('a completed export keeps its file; deleting it removes that file and every other attempt\'s', async () => {
      const { job, claimed, key } = await runningWithObject('none')
      await completeJob(ctx.db, claimed, { s3_key: key, row_count: 1, file_size_bytes: 8, checksum_sha256: 'x' }, { phase: 'finalizing', percent: 100, rows: 1, bytes_uploaded: 8 })
      // A run that lost this job to the one that completed it, whose commit landed afterwards.
      const loser = exportKey(userId(), job.id, 'csv', 'none', '33333333-3333-4333-8333-333333333333')
      await put(loser)
      await deleteExport(ctx.db, storage, userId(), job.id)
      expect(await keysOf(job)).toEqual([])
    })

    it('the sweep keeps a completed multi-part export\'s parts and manifest, and deletes another attempt\'s parts', async () => {
      const row = await ctx.db.job.create({ data: { userId: userId(), type: 'EXPORT', status: 'completed', runAt: new Date(), metadata: metadata(MONTHLY) as object } })
      const part = (claim: string, name: string) => exportPartKey(userId(), row.id, claim, name)
      const won = '12121212-1212-4212-8212-121212121212'
      const parts = ['part-0001.csv', 'part-0002.csv'].map(name => ({ key: part(won, name), filename: name, rows: 1, bytes: 8, checksum_sha256: 'x' }))
      await ctx.db.job.update({ where: { id: row.id }, data: { metadata: { ...metadata(MONTHLY), s3_key: part(won, 'manifest.json'), parts } as object } })
      const kept = [...parts.map(p => p.key), part(won, 'manifest.json')]
      // What a killed attempt left: a part, no manifest.
      const orphan = part('34343434-3434-4434-8434-343434343434', 'part-0001.csv')
      for (const key of [...kept, orphan]) await put(key)
      expect(await sweepOrphans(ctx.db, storage, { now: new Date(Date.now() + 2 * 3600_000) })).toEqual({ found: 1, deleted: 1 })
      expect(await keysOf(row)).toEqual([...kept].sort())
      await deleteExport(ctx.db, storage, userId(), row.id)
      expect(await keysOf(row)).toEqual([])
    })

    it('the sweep deletes objects older than an hour that no live job owns, counting them, and nothing else', async () => {
      expect(await keys('')).toEqual([])
      const job = (status: ExportJob['status'], extra: Partial<ExportMetadata> = {}) => ctx.db.job.create({
        data: { userId: userId(), type: 'EXPORT', status, runAt: new Date(Date.now() + 3600_000), metadata: { ...metadata(MONTHLY), ...extra } as object }
      })
      const attempt = (row: { id: string }, claim: string) => exportKey(userId(), row.id, 'csv', 'none', claim)
      const [completed, running, pending, cancelled, deleted, failed] = await Promise.all(
        (['completed', 'running', 'pending', 'cancelled', 'deleted', 'failed'] as const).map(status => job(status))
      )
      const completedKey = attempt(completed!, '44444444-4444-4444-8444-444444444444')
      await ctx.db.job.update({ where: { id: completed!.id }, data: { metadata: { ...metadata(MONTHLY), s3_key: completedKey } as object } })
      const legacyCompleted = await job('completed')
      const legacyKey = exportKey(userId(), legacyCompleted.id, 'csv')
      await ctx.db.job.update({ where: { id: legacyCompleted.id }, data: { metadata: { ...metadata(MONTHLY), s3_key: legacyKey } as object } })
      const kept = [completedKey, legacyKey, attempt(running!, '55555555-5555-4555-8555-555555555555'), attempt(pending!, '66666666-6666-4666-8666-666666666666')]
      const orphans = [
        attempt(completed!, '77777777-7777-4777-8777-777777777777'),
        attempt(cancelled!, '88888888-8888-4888-8888-888888888888'),
        attempt(deleted!, '99999999-9999-4999-8999-999999999999'),
        exportKey(userId(), failed!.id, 'csv', 'gzip'),
        // A job that no longer exists, and a key under another user's folder naming a live job.
        exportKey(userId(), '00000000-0000-4000-8000-0000000000aa', 'csv'),
        exportKey('00000000-0000-4000-8000-0000000000bb', running!.id, 'csv'),
        'exports/not-a-job.csv'
      ]
      const outside = 'elsewhere/keep.csv'
      for (const key of [...kept, ...orphans, outside]) await put(key)

      const metrics = new Metrics()
      try {
        // All of them are younger than an hour: nothing is touched yet.
        expect(await sweepOrphans(ctx.db, storage, { metrics: metrics.orphans })).toEqual({ found: 0, deleted: 0 })
        expect(await keys('')).toHaveLength(kept.length + orphans.length + 1)
        const later = new Date(Date.now() + 2 * 3600_000)
        expect(await sweepOrphans(ctx.db, storage, { now: later, metrics: metrics.orphans })).toEqual({ found: orphans.length, deleted: orphans.length })
        expect(await keys('')).toEqual([...kept, outside].sort())
        const scrape = await metrics.scrape()
        expect(scrape).toContain(`outport_export_orphans_found_total ${orphans.length}`)
        expect(scrape).toContain(`outport_export_orphans_deleted_total ${orphans.length}`)
        // Another sweep (another process's) finds nothing more.
        expect(await sweepOrphans(ctx.db, storage, { now: later })).toEqual({ found: 0, deleted: 0 })
      } finally {
        metrics.close()
      }
      await ctx.db.job.updateMany({ where: { status: { in: ['pending', 'running'] } }, data: { status: 'cancelled' } })
    })
  })

  describe('a commit on the wire when the job ends', () => {
    let worker: ExportWorker
    beforeAll(async () => {
      worker = new ExportWorker(ctx, { concurrency: 1, workDir: join(dir, 'work'), maxAttempts: 1, log: line => console.info(line) })
      await worker.start()
    })
    afterAll(async () => {
      await proxy.release()
      await worker?.stop(1000)
    })

    /** Starts an export, holds its commit, ends the job with `end`, then lets the commit land. */
    async function endWhileCommitting(dataset: number, end: (job: ExportJob) => Promise<unknown>) {
      proxy.holdCommits = true
      const job = await createExportJob(ctx.db, userId(), metadata(dataset))
      await waitFor('the commit to be held', async () => proxy.held.length > 0, 60_000, 20)
      const held = proxy.held[0]!
      expect(held).toContain(`exports/${userId()}/${job.id}/`)
      await end(job)
      expect(await keysOf(job)).toEqual([])
      await proxy.release()
      // The object has landed now; its run must remove it.
      await waitFor('the late object to be removed', async () => (await keysOf(job)).length === 0, 10_000, 50)
      await waitFor('the worker to let go of the job', async () => worker.activeJobIds.length === 0, 30_000, 20)
      return { job, held }
    }

    it.each([['multipart completion', TRANSACTIONS], ['single PutObject', MONTHLY]] as const)('deleted while its %s is held: the run removes the object that lands', async (kind, dataset) => {
      const { job, held } = await endWhileCommitting(dataset, job => deleteExport(ctx.db, storage, userId(), job.id))
      expect(held.startsWith(kind === 'single PutObject' ? 'PUT ' : 'POST ')).toBe(true)
      expect(await keysOf(job)).toEqual([])
      expect((await ctx.db.job.findUniqueOrThrow({ where: { id: job.id } })).status).toBe('deleted')
    })

    it.each([['multipart completion', TRANSACTIONS], ['single PutObject', MONTHLY]] as const)('cancelled while its %s is held: the run removes the object that lands', async (_kind, dataset) => {
      const { job } = await endWhileCommitting(dataset, job => cancelExport(ctx.db, storage, userId(), job.id))
      expect(await keysOf(job)).toEqual([])
      expect((await ctx.db.job.findUniqueOrThrow({ where: { id: job.id } })).status).toBe('cancelled')
    })

    it.each(['deleted', 'cancelled'] as const)('%s without the worker hearing of it: the refused completion removes the object', async (status) => {
      // As when the cancel notification is missed: the run goes on, its upload lands, and only the
      // completion finds the job gone.
      const { job } = await endWhileCommitting(MONTHLY, job => ctx.db.job.update({
        where: { id: job.id },
        data: { status, claimId: null, lockedBy: null, lockedUntil: null, ...(status === 'deleted' && { deletedAt: new Date() }) }
      }))
      expect(await keysOf(job)).toEqual([])
      expect((await ctx.db.job.findUniqueOrThrow({ where: { id: job.id } })).status).toBe(status)
    })

    it('a job that completes keeps its attempt\'s object as its file', async () => {
      const job = await createExportJob(ctx.db, userId(), metadata(MONTHLY, 'zstd'))
      await waitFor('the job to complete', async () => (await ctx.db.job.findUniqueOrThrow({ where: { id: job.id } })).status === 'completed', 30_000, 20)
      const row = await ctx.db.job.findUniqueOrThrow({ where: { id: job.id } })
      const key = (row.metadata as { s3_key: string }).s3_key
      expect(key).toMatch(new RegExp(`^exports/${userId()}/${job.id}/[0-9a-f-]{36}\\.csv\\.zst$`))
      expect(await keysOf(job)).toEqual([key])
    })
  })
})
