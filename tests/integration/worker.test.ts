import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '#server/lib/config'
import { createAppContext, type AppContext } from '#server/lib/context'
import { ExportWorker } from '#server/lib/exports/worker'
import { cancelJob } from '#server/lib/exports/jobs/queue'
import { createExportJob } from '#server/lib/exports/jobs/submit'
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '#server/lib/local/s3rver'
import { Metrics } from '#server/lib/metrics'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { buildWarehouse, planDemo } from '#server/lib/warehouse/demo'
import type { ExportMetadata, ExportProgress } from '#shared/types/exports'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { waitFor } from '../helpers/faults'
import { parsePrometheus, sampleSum, sampleValue } from '../helpers/prometheus'
import { freePort } from '../helpers/server'

/** The worker in-process against real PostgreSQL, DuckDB and s3rver: cancellation end to end. */
describe('ExportWorker cancellation', () => {
  let dir: string
  let database: TestDatabase
  let s3: S3rverHandle
  let ctx: AppContext
  let worker: ExportWorker
  const metrics = new Metrics()
  const [user] = planDemo({ users: 1, transactions: 400_000, seed: 5 })
  const metadata = (dataset: number): ExportMetadata => ({
    dataset_id: DATASETS[dataset]!.id,
    dataset_name: DATASETS[dataset]!.name,
    format: 'csv',
    filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }
  })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outport-worker-'))
    database = await createTestDatabase()
    s3 = await startS3rver({ directory: join(dir, 's3'), port: await freePort(), buckets: ['worker-test'] })
    await buildWarehouse(join(dir, 'warehouse.duckdb'), [user!], 5)
    ctx = createAppContext(loadConfig({
      DATABASE_URL: database.url, S3_EXPORTS_BUCKET: 'worker-test', S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      WAREHOUSE_PATH: join(dir, 'warehouse.duckdb'), EXPORT_WORK_DIR: join(dir, 'work'), DUCKDB_THREADS: '1'
    }))
    await ctx.db.user.create({ data: { id: user!.user_id, email: 'w@example.com', passwordHash: 'x', displayName: 'W' } })
    worker = new ExportWorker(ctx, { concurrency: 1, workDir: join(dir, 'work'), maxAttempts: 1, log: line => console.info(line), metrics: metrics.worker })
    await worker.start()
  })
  afterAll(async () => {
    await worker?.stop(1000)
    metrics.close()
    await ctx?.close()
    await database?.drop()
    await s3?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('stops a job cancelled mid-query within a second, removes its file, and runs the next job', async () => {
    const job = await createExportJob(ctx.db, user!.user_id, metadata(0))
    await waitFor('the query to start', async () => {
      const row = await ctx.db.job.findUniqueOrThrow({ where: { id: job.id } })
      return (row.progress as unknown as ExportProgress).phase === 'querying' && (await readdir(join(dir, 'work'))).some(f => f.startsWith(job.id) && f.endsWith('.csv'))
    }, 30_000, 10)
    const started = performance.now()
    expect(await cancelJob(ctx.db, user!.user_id, job.id)).toEqual({ outcome: 'cancelled', previous: 'running' })
    await waitFor('the worker to let go of the job', async () => worker.activeJobIds.length === 0, 5000, 5)
    const stoppedMs = performance.now() - started
    console.info(`worker stopped ${Math.round(stoppedMs)} ms after the cancel`)
    expect(stoppedMs).toBeLessThan(1000)
    expect((await readdir(join(dir, 'work'))).filter(f => f !== 'duckdb-spill')).toEqual([])

    // Picked up at once (NOTIFY), not at the next sweep.
    const created = performance.now()
    const next = await createExportJob(ctx.db, user!.user_id, metadata(2))
    await waitFor('the next job to be claimed', async () => (await ctx.db.job.findUniqueOrThrow({ where: { id: next.id } })).status !== 'pending', 30_000, 10)
    console.info(`next job claimed ${Math.round(performance.now() - created)} ms after it was created`)
    expect(performance.now() - created).toBeLessThan(2000)
    await waitFor('the next job to complete', async () => (await ctx.db.job.findUniqueOrThrow({ where: { id: next.id } })).status === 'completed', 30_000)
    expect((await ctx.db.job.findUniqueOrThrow({ where: { id: job.id } })).status).toBe('cancelled')

    // What the worker reported: two pickups, one completed export with the job's row count and
    // size; the cancelled run is neither a completion nor a failure.
    const done = await ctx.db.job.findUniqueOrThrow({ where: { id: next.id } })
    const result = done.metadata as { row_count: number, file_size_bytes: number }
    const families = parsePrometheus(await metrics.scrape())
    expect(sampleValue(families, 'outport_job_pickup_seconds_count')).toBe(2)
    expect(sampleValue(families, 'outport_lease_reclaims_total')).toBe(0)
    expect(sampleValue(families, 'outport_export_rows_total', { format: 'csv' })).toBe(result.row_count)
    expect(sampleValue(families, 'outport_export_bytes_total', { format: 'csv' })).toBe(result.file_size_bytes)
    expect(sampleValue(families, 'outport_export_duration_seconds_count', { format: 'csv', outcome: 'completed' })).toBe(1)
    expect(sampleSum(families, 'outport_export_failures_total')).toBe(0)
    // The warehouse instance is open after two exports: DuckDB's memory is readable and cheap to read.
    expect(await ctx.warehouse.memoryBytes()).toBeGreaterThanOrEqual(0)
  })

  it('stop() while a claim is in flight hands the claimed jobs straight back instead of running them', async () => {
    await worker.stop(1000)
    const jobs = await Promise.all([createExportJob(ctx.db, user!.user_id, metadata(2)), createExportJob(ctx.db, user!.user_id, metadata(2))])
    const late = new ExportWorker(ctx, { concurrency: 2, workDir: join(dir, 'work'), maxAttempts: 1 })
    late.poke()
    await late.stop(1000)
    // Whatever the claim in flight returned after stop() began must not start running now.
    await new Promise(resolve => setTimeout(resolve, 500))
    const rows = await ctx.db.job.findMany({ where: { id: { in: jobs.map(j => j.id) } } })
    expect(rows.map(r => ({ status: r.status, attempts: r.attempts, claimId: r.claimId }))).toEqual([
      { status: 'pending', attempts: 0, claimId: null },
      { status: 'pending', attempts: 0, claimId: null }
    ])
    expect(late.activeJobIds).toEqual([])
  })

  it('divides DuckDB\'s threads among the exports running at once, and gives them back after', async () => {
    await ctx.db.job.deleteMany({ where: { status: 'pending' } })
    await ctx.warehouse.setThreads(2)
    expect(await ctx.warehouse.currentThreads()).toBe(2)
    const balanced = new ExportWorker(ctx, { concurrency: 2, duckdbThreads: 2, workDir: join(dir, 'work'), maxAttempts: 1 })
    await balanced.start()
    try {
      const jobs = await Promise.all([createExportJob(ctx.db, user!.user_id, metadata(0)), createExportJob(ctx.db, user!.user_id, metadata(0))])
      await waitFor('both exports to run', async () => balanced.activeJobIds.length === 2, 30_000, 5)
      await waitFor('DuckDB to run on one thread', async () => await ctx.warehouse.currentThreads() === 1, 5000, 10)
      await waitFor('both exports to complete', async () => (await ctx.db.job.count({ where: { id: { in: jobs.map(j => j.id) }, status: 'completed' } })) === 2, 60_000, 10)
      // Given back only once fewer exports have run for a while: DuckDB stalls running queries
      // while the count changes, so a queue draining back to back must not flip it per export.
      expect(await ctx.warehouse.currentThreads()).toBe(1)
      await waitFor('DuckDB to have both threads again', async () => await ctx.warehouse.currentThreads() === 2, 5000, 10)
    } finally {
      await balanced.stop(1000)
    }
  })

  it('empties DuckDB\'s cache once no export has run for a while', async () => {
    await ctx.db.job.deleteMany({ where: { status: 'pending' } })
    const idle = new ExportWorker(ctx, { concurrency: 1, workDir: join(dir, 'work'), maxAttempts: 1, releaseCacheAfterMs: 2000 })
    await idle.start()
    try {
      const job = await createExportJob(ctx.db, user!.user_id, metadata(0))
      await waitFor('the export to complete', async () => (await ctx.db.job.findUniqueOrThrow({ where: { id: job.id } })).status === 'completed' && idle.activeJobIds.length === 0, 60_000, 10)
      // What the export left in DuckDB's buffer pool is still there right after it...
      expect(await ctx.warehouse.memoryBytes()).toBeGreaterThan(12 * 2 ** 20)
      // ...and gone once the worker has been idle for releaseCacheAfterMs.
      await waitFor('DuckDB\'s cache to be emptied', async () => (await ctx.warehouse.memoryBytes())! <= 8 * 2 ** 20, 10_000, 50)
    } finally {
      await idle.stop(1000)
    }
  })
})
