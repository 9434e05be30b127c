import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '#server/lib/config'
import { createAppContext, type AppContext } from '#server/lib/context'
import { mintDownloadLink, exportDTO } from '#server/lib/exports/dto'
import { findExport } from '#server/lib/exports/jobs/history'
import type { ExportJob } from '#server/lib/exports/jobs/record'
import { ExportWorker } from '#server/lib/exports/worker'
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '#server/lib/local/s3rver'
import { jobNews, NO_NEW_ROWS } from '#server/lib/notifications/summary'
import { runScheduleNow } from '#server/lib/schedules/scheduler'
import { createSchedule, findUserSchedule, resetWatermark, toScheduleDTOs } from '#server/lib/schedules/store'
import { ValidationError } from '#server/lib/validation'
import { buildWarehouse, planDemo } from '#server/lib/warehouse/demo'
import { openWarehouse, queryRows } from '#server/lib/warehouse/duckdb'
import { WarehouseReader } from '#server/lib/warehouse/reader'
import { CreateScheduleSchema } from '#shared/types/schedules'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { waitFor } from '../helpers/faults'
import { freePort } from '../helpers/server'
import { loadRows } from '../helpers/warehouse-load'

const TRANSACTIONS = '054f17bf-1dbb-43ed-98c3-b4858093d7fc'
const DAILY_BY_TAG = '8f1fab1c-e78a-4dd5-8345-488665a81279'
const LIMITS = { SCHEDULES_MAX_PER_USER: 25, EXPORT_MAX_RANGE_DAYS: 366, SCHEDULES_DISABLE_AFTER_FAILURES: 50, EXPORT_MAX_ACTIVE_PER_USER: 10 }

/** A reader whose next connects first run the queued hooks: a load, a delay or a failure at an exact point of a run. */
class HookedReader extends WarehouseReader {
  readonly hooks: Array<() => Promise<void>> = []
  override async connect() {
    await this.hooks.shift()?.()
    return super.connect()
  }
}

/**
 * Incremental schedules end to end in-process: real PostgreSQL, DuckDB, s3rver and the worker, with
 * rows loaded into the warehouse between, during and after runs (a copy renamed over the file the
 * worker reads, which its reader reopens).
 */
describe('incremental schedules ("since_last_run")', () => {
  let dir: string
  let database: TestDatabase
  let s3: S3rverHandle
  let base: AppContext
  let ctx: AppContext
  let reader: HookedReader
  let worker: ExportWorker
  let path: string
  let slot = Date.parse('2026-12-06T12:00:00Z')
  const [user] = planDemo({ users: 1, transactions: 300, seed: 11 })
  const userId = user!.user_id
  const account = user!.accounts[0]!.id
  // Loads stamped after everything the demo has, a microsecond apart where it matters.
  const load = (dates: string[], loadedAt: string) => loadRows(path, dates.map(d => ({ user_id: userId, account_id: account, transaction_date: d, loaded_at: loadedAt })))

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outport-incremental-'))
    database = await createTestDatabase()
    s3 = await startS3rver({ directory: join(dir, 's3'), port: await freePort(), buckets: ['incremental-test'] })
    path = join(dir, 'warehouse.duckdb')
    await buildWarehouse(path, [user!], 11)
    base = createAppContext(loadConfig({
      DATABASE_URL: database.url, S3_EXPORTS_BUCKET: 'incremental-test', S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      WAREHOUSE_PATH: path, EXPORT_WORK_DIR: join(dir, 'work'), DUCKDB_THREADS: '1'
    }))
    reader = new HookedReader(path, { threads: 1 })
    ctx = { ...base, warehouse: reader }
    await ctx.db.user.create({ data: { id: userId, email: 'inc@example.com', passwordHash: 'x', displayName: 'Inc' } })
    worker = new ExportWorker(ctx, { concurrency: 2, workDir: join(dir, 'work'), maxAttempts: 1, deferMs: 100, sweepMs: 200 })
    await worker.start()
  }, 60_000)
  afterAll(async () => {
    await worker?.stop(1000)
    await reader?.close()
    await base?.close()
    await database?.drop()
    await s3?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function newSchedule(initial: 'all' | { start_date: string } = 'all') {
    return createSchedule(ctx.db, LIMITS, userId, CreateScheduleSchema.parse({
      dataset_id: TRANSACTIONS, format: 'csv', range: { type: 'since_last_run', initial },
      cadence: { frequency: 'minutes', every: 5, time_zone: 'UTC' }, enabled: false
    }), new Date('2026-12-06T00:00:00Z'))
  }

  /** Queues a run (a run-now at its own instant) without waiting. */
  async function queue(scheduleId: string): Promise<string> {
    slot += 1000
    return (await runScheduleNow(ctx.db, LIMITS, userId, scheduleId, new Date(slot))).job.id
  }

  async function finished(jobId: string): Promise<ExportJob> {
    return waitFor(`run ${jobId} to finish`, async () => {
      const job = await findExport(ctx.db, jobId)
      return job && ['completed', 'failed', 'cancelled'].includes(job.status) ? job : null
    }, 60_000, 20)
  }

  /** The transaction ids in the run's file (CSV, id first), in file order. */
  async function fileIds(job: ExportJob): Promise<string[]> {
    const link = await mintDownloadLink(ctx.storage, job, 60)
    const text = await (await fetch(link!.url)).text()
    const [header, ...lines] = text.split('\n').filter(Boolean)
    expect(header!.startsWith('transaction_id,')).toBe(true)
    return lines.map(line => line.split(',')[0]!)
  }

  async function allIds(fromDate = '0001-01-01'): Promise<string[]> {
    const instance = await openWarehouse(path)
    const connection = await instance.connect()
    try {
      return (await queryRows<{ id: string }>(connection, `SELECT transaction_id::VARCHAR AS id FROM transactions WHERE user_id = '${userId}' AND transaction_date >= DATE '${fromDate}'`)).map(r => r.id)
    } finally {
      connection.closeSync()
      instance.closeSync()
    }
  }

  async function run(scheduleId: string) {
    const job = await finished(await queue(scheduleId))
    return { job, ids: job.status === 'completed' ? await fileIds(job) : [] }
  }

  it('rows loaded between runs, late rows for old dates, and rows loaded during a run appear exactly once across runs', async () => {
    const schedule = await newSchedule()
    const before = await allIds()

    const first = await run(schedule.id)
    expect(first.job.status).toBe('completed')
    expect(first.ids.sort()).toEqual([...before].sort())
    const dto = exportDTO(first.job, null, { EXPORT_RETENTION_HOURS: 24 })
    expect(dto.incremental_from).toBeNull()
    expect(dto.data_as_of).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
    const [scheduleDto] = await toScheduleDTOs(ctx.db, [(await findUserSchedule(ctx.db, userId, schedule.id))!])
    expect(scheduleDto!.watermark).toBe(dto.data_as_of)

    // Loaded between runs: one dated today, one a late row for a date two years ago; the second
    // a microsecond after the first (same millisecond: a rounded watermark would repeat or lose it).
    const between = await load(['2026-12-05', '2024-03-01'], '2026-12-06T13:00:00.000001Z')
    const sameMs = await load(['2026-12-05'], '2026-12-06T13:00:00.000002Z')
    const second = await run(schedule.id)
    expect(second.ids.sort()).toEqual([...between, ...sameMs].sort())
    expect(second.job.metadata.incremental).toMatchObject({ from: dto.data_as_of, as_of: '2026-12-06T13:00:00.000002Z' })

    // Loaded during a run: after its cutoff was read, before its query (the export's connect).
    let during: string[] = []
    reader.hooks.push(async () => {}, async () => {
      during = await load(['2026-12-06'], '2026-12-06T13:05:00Z')
    })
    const before3 = await load(['2026-12-06'], '2026-12-06T13:00:00.000003Z')
    const third = await run(schedule.id)
    expect(during).toHaveLength(1)
    expect(third.ids).toEqual(before3)
    const fourth = await run(schedule.id)
    expect(fourth.ids).toEqual(during)

    // Nothing new: a header-only file, row_count 0, and the notification says so.
    const fifth = await run(schedule.id)
    expect(fifth.job.status).toBe('completed')
    expect(fifth.ids).toEqual([])
    expect(fifth.job.metadata.row_count).toBe(0)
    expect(fifth.job.metadata.incremental).toMatchObject({ from: '2026-12-06T13:05:00.000000Z', as_of: '2026-12-06T13:05:00.000000Z' })
    expect((await jobNews(ctx.db, fifth.job, { appUrl: 'http://x', downloadKey: null, retentionHours: 24 })).rowsText).toBe(NO_NEW_ROWS)

    // Across all runs every row of the warehouse exactly once.
    const exported = [first, second, third, fourth, fifth].flatMap(r => r.ids)
    expect(exported.length).toBe(new Set(exported).size)
    expect(exported.sort()).toEqual((await allIds()).sort())
  }, 120_000)

  it('a failed run does not move the watermark: the next run exports its rows', async () => {
    const schedule = await newSchedule()
    const first = await run(schedule.id)
    const watermark = first.job.metadata.incremental!.as_of
    const missed = await load(['2026-12-06'], '2026-12-06T14:00:00Z')
    // The window is fixed, then the export cannot reach the warehouse (retryable, but one attempt allowed).
    reader.hooks.push(async () => {}, async () => {
      throw new Error('warehouse went away')
    })
    const failed = await run(schedule.id)
    expect(failed.job.status).toBe('failed')
    expect(failed.job.metadata.incremental!.from).toBe(watermark)
    expect((await toScheduleDTOs(ctx.db, [(await findUserSchedule(ctx.db, userId, schedule.id))!]))[0]!.watermark).toBe(watermark)
    const more = await load(['2026-12-06'], '2026-12-06T14:00:01Z')
    const next = await run(schedule.id)
    expect(next.job.metadata.incremental!.from).toBe(watermark)
    expect(next.ids.sort()).toEqual([...missed, ...more].sort())
  }, 120_000)

  it('a run queued behind another picks its watermark when it starts: consecutive windows, no overlap', async () => {
    const schedule = await newSchedule()
    await run(schedule.id)
    const a = await load(['2026-12-06'], '2026-12-06T15:00:00Z')
    // The first run's export waits a moment, so the second is claimed (concurrency 2) while the first runs.
    let slowed = false
    reader.hooks.push(async () => {}, async () => {
      slowed = true
      await new Promise(resolve => setTimeout(resolve, 1500))
    })
    const firstId = await queue(schedule.id)
    await waitFor('the first run to start its export', async () => slowed, 10_000, 10)
    const secondId = await queue(schedule.id)
    const b = await load(['2026-12-06'], '2026-12-06T15:00:01Z')
    const [first, second] = [await finished(firstId), await finished(secondId)]
    expect([first.status, second.status]).toEqual(['completed', 'completed'])
    // Deferred while the first ran, not counted as an attempt.
    expect(second.attempts).toBe(1)
    expect(second.metadata.incremental!.from).toBe(first.metadata.incremental!.as_of)
    const ids = [...await fileIds(first), ...await fileIds(second)]
    expect(ids.sort()).toEqual([...a, ...b].sort())
  }, 120_000)

  it('initial start date, reset to null and to an instant; aggregated datasets refuse the range (400)', async () => {
    const schedule = await newSchedule({ start_date: '2026-10-01' })
    const first = await run(schedule.id)
    expect(first.job.metadata.filters.start_date).toBe('2026-10-01')
    expect(first.ids.sort()).toEqual((await allIds('2026-10-01')).sort())
    expect(first.ids.length).toBeLessThan((await allIds()).length)
    const again = await run(schedule.id)
    expect(again.job.metadata.filters.start_date).toBeNull()
    expect(again.ids).toEqual([])

    await resetWatermark(ctx.db, userId, schedule.id, '2026-12-06T14:00:00.5Z')
    const fromReset = await run(schedule.id)
    expect(fromReset.job.metadata.incremental!.from).toBe('2026-12-06T14:00:00.500000Z')
    // The rows the earlier tests loaded from 14:00:01 on.
    expect(fromReset.ids).toHaveLength(3)
    await resetWatermark(ctx.db, userId, schedule.id, null)
    const restarted = await run(schedule.id)
    expect(restarted.job.metadata.filters.start_date).toBe('2026-10-01')
    expect(restarted.ids.sort()).toEqual(first.ids.sort())

    const refused = await createSchedule(ctx.db, LIMITS, userId, CreateScheduleSchema.parse({
      dataset_id: DAILY_BY_TAG, format: 'csv', range: { type: 'since_last_run', initial: 'all' }, cadence: { frequency: 'daily', time: '08:00', time_zone: 'UTC' }
    })).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(ValidationError)
    expect((refused as ValidationError).statusCode).toBe(400)
    expect((refused as ValidationError).errors).toEqual([{ field: 'range', message: expect.stringMatching(/aggregated and has no load time/) }])
    const weekly = await createSchedule(ctx.db, LIMITS, userId, CreateScheduleSchema.parse({
      dataset_id: TRANSACTIONS, format: 'csv', range: 'previous_week', cadence: { frequency: 'daily', time: '08:00', time_zone: 'UTC' }
    }))
    await expect(resetWatermark(ctx.db, userId, weekly.id, null)).rejects.toBeInstanceOf(ValidationError)
  }, 120_000)
})
