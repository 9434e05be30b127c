import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createDb, type Db } from '#server/lib/db/client'
import { cancelBackfill, createBackfill, feedBackfills, listBackfills } from '#server/lib/schedules/backfill'
import { runDueSchedules } from '#server/lib/schedules/scheduler'
import { createSchedule, findUserSchedule, toScheduleDTOs } from '#server/lib/schedules/store'
import { createExportJob } from '#server/lib/exports/jobs/submit'
import { RequestError, ValidationError } from '#server/lib/validation'
import { CreateScheduleSchema, type CreateScheduleInput } from '#shared/types/schedules'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

const TRANSACTIONS = '054f17bf-1dbb-43ed-98c3-b4858093d7fc'
const LIMITS = {
  SCHEDULES_MAX_PER_USER: 25, EXPORT_MAX_RANGE_DAYS: undefined as number | undefined, SCHEDULES_DISABLE_AFTER_FAILURES: 3,
  EXPORT_MAX_ACTIVE_PER_USER: 3, SCHEDULES_BACKFILL_MAX_SLOTS: 400, SCHEDULES_MIN_INTERVAL_MINUTES: 5
}
const at = (s: string) => new Date(s)
const NOW = at('2026-12-06T12:00:00Z')

const body = (over: Partial<CreateScheduleInput> = {}) => CreateScheduleSchema.parse({
  dataset_id: TRANSACTIONS, format: 'csv', range: 'previous_day',
  cadence: { frequency: 'daily', time: '02:30', time_zone: 'America/New_York' }, ...over
})

describe('backfills, minute cadences and skipped slots (PostgreSQL, injected clock)', () => {
  let database: TestDatabase
  let db: Db
  let alice: string

  beforeAll(async () => {
    database = await createTestDatabase()
    db = createDb(database.url, { max: 12 })
    alice = (await db.user.create({ data: { email: 'alice@example.com', passwordHash: 'x', displayName: 'Alice' } })).id
  })
  afterAll(async () => {
    await db?.$disconnect()
    await database?.drop()
  })
  beforeEach(async () => {
    await db.job.deleteMany()
    await db.schedule.deleteMany()
  })

  /** Lets the backfill's runs through one at a time, as finished runs would. */
  async function drain(): Promise<Array<{ slot: string, start: string | null, end: string | null }>> {
    const runs = []
    for (;;) {
      const { created } = await feedBackfills(db, LIMITS)
      if (!created.length) return runs
      for (const job of created) {
        runs.push({ slot: job.scheduledFor!.toISOString(), start: job.metadata.filters.start_date, end: job.metadata.filters.end_date })
        await db.job.update({ where: { id: job.id }, data: { status: 'completed', completedAt: new Date() } })
      }
    }
  }

  it('one run per slot with the range it would have had, across the March DST change; repeated and overlapping backfills add nothing twice', async () => {
    const schedule = await createSchedule(db, LIMITS, alice, body(), at('2026-03-01T00:00:00Z'))
    const window = { start: '2026-03-07T00:00:00Z', end: '2026-03-10T12:00:00Z' }
    const first = await createBackfill(db, LIMITS, alice, schedule.id, window, NOW)
    expect(first.slots).toBe(4)
    expect(await drain()).toEqual([
      // 02:30 EST; then 02:30 does not exist on 8 March: 03:00 EDT, once; then 02:30 EDT.
      { slot: '2026-03-07T07:30:00.000Z', start: '2026-03-06', end: '2026-03-06' },
      { slot: '2026-03-08T07:00:00.000Z', start: '2026-03-07', end: '2026-03-07' },
      { slot: '2026-03-09T06:30:00.000Z', start: '2026-03-08', end: '2026-03-08' },
      { slot: '2026-03-10T06:30:00.000Z', start: '2026-03-09', end: '2026-03-09' }
    ])
    expect((await createBackfill(db, LIMITS, alice, schedule.id, window, NOW)).slots).toBe(0)
    const overlapping = await createBackfill(db, LIMITS, alice, schedule.id, { start: '2026-03-09T00:00:00Z', end: '2026-03-12T00:00:00Z' }, NOW)
    // 9 and 10 March ran already: only 11 March is added.
    expect(overlapping.slots).toBe(1)
    expect((await drain()).map(r => r.slot)).toEqual(['2026-03-11T06:30:00.000Z'])
    expect(await db.job.count({ where: { scheduleId: schedule.id } })).toBe(5)
    expect(await db.job.count({ where: { scheduleId: schedule.id, NOT: { metadata: { path: ['schedule', 'trigger'], equals: 'backfill' } } } })).toBe(0)
    const [dto] = await listBackfills(db, alice, schedule.id).then(list => list.filter(b => b.backfill_id === first.backfillId))
    expect(dto).toMatchObject({ slots: 4, done: 4, failed: 0, pending: 0, cancelled_at: null })
  })

  it('refuses a window beyond SCHEDULES_BACKFILL_MAX_SLOTS, in the future, or on an incremental schedule (400); another user\'s schedule is not found', async () => {
    const schedule = await createSchedule(db, LIMITS, alice, body({ cadence: { frequency: 'minutes', every: 5, time_zone: 'UTC' } }), at('2026-12-01T00:00:00Z'))
    // 400 five-minute slots in 2000 minutes: allowed; one more is not.
    const start = at('2026-12-01T00:00:00Z')
    const end = (minutes: number) => new Date(start.getTime() + minutes * 60_000).toISOString()
    const refused = await createBackfill(db, LIMITS, alice, schedule.id, { start: start.toISOString(), end: end(2005) }, NOW).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ValidationError)
    expect((refused as ValidationError).errors[0]).toMatchObject({ field: 'end', message: expect.stringMatching(/more than 400 slots/) })
    expect(await db.scheduleBackfill.count()).toBe(0)
    expect((await createBackfill(db, LIMITS, alice, schedule.id, { start: start.toISOString(), end: end(2000) }, NOW)).slots).toBe(400)
    await expect(createBackfill(db, LIMITS, alice, schedule.id, { start: start.toISOString(), end: '2026-12-07T00:00:00Z' }, NOW)).rejects.toMatchObject({ errors: [{ field: 'end', message: expect.stringMatching(/future/) }] })
    const incremental = await createSchedule(db, LIMITS, alice, body({ range: { type: 'since_last_run', initial: 'all' } }), NOW)
    await expect(createBackfill(db, LIMITS, alice, incremental.id, { start: start.toISOString(), end: end(60) }, NOW)).rejects.toMatchObject({ statusCode: 400, errors: [{ field: 'range', message: expect.stringMatching(/reset its watermark/) }] })
    const bob = (await db.user.create({ data: { email: `bob-${Date.now()}@example.com`, passwordHash: 'x', displayName: 'Bob' } })).id
    await expect(createBackfill(db, LIMITS, bob, schedule.id, { start: start.toISOString(), end: end(60) }, NOW)).rejects.toMatchObject({ statusCode: 404 })
    await expect(listBackfills(db, bob, schedule.id)).rejects.toBeInstanceOf(RequestError)
  })

  it('runs queue behind the user\'s own exports, one at a time, within the active limit; cancel stops what has not started', async () => {
    const schedule = await createSchedule(db, LIMITS, alice, body(), at('2026-11-01T00:00:00Z'))
    const { backfillId, slots } = await createBackfill(db, LIMITS, alice, schedule.id, { start: '2026-11-01T00:00:00Z', end: '2026-11-08T00:00:00Z' }, NOW)
    expect(slots).toBe(7)
    const metadata = { dataset_id: TRANSACTIONS, dataset_name: 'fct_transactions', format: 'csv' as const, filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] } }
    // A one-off export waiting: the backfill waits behind it.
    const mine = await createExportJob(db, alice, metadata)
    expect((await feedBackfills(db, LIMITS)).created).toEqual([])
    await db.job.update({ where: { id: mine.id }, data: { status: 'running' } })
    const first = (await feedBackfills(db, LIMITS)).created
    expect(first).toHaveLength(1)
    // One at a time: nothing more while it waits or runs.
    expect((await feedBackfills(db, LIMITS)).created).toEqual([])
    await db.job.update({ where: { id: first[0]!.id }, data: { status: 'completed', completedAt: new Date() } })
    // At the active limit (3 of the user's exports running): none.
    await createExportJob(db, alice, metadata).then(j => db.job.update({ where: { id: j.id }, data: { status: 'running' } }))
    await createExportJob(db, alice, metadata).then(j => db.job.update({ where: { id: j.id }, data: { status: 'running' } }))
    expect((await feedBackfills(db, LIMITS)).created).toEqual([])
    await db.job.updateMany({ where: { scheduleId: null }, data: { status: 'completed' } })
    // Paused: its slots wait until it is resumed.
    await db.schedule.update({ where: { id: schedule.id }, data: { enabled: false } })
    expect((await feedBackfills(db, LIMITS)).created).toEqual([])
    await db.schedule.update({ where: { id: schedule.id }, data: { enabled: true } })
    const second = (await feedBackfills(db, LIMITS)).created
    expect(second).toHaveLength(1)
    expect((await listBackfills(db, alice, schedule.id))[0]).toMatchObject({ backfill_id: backfillId, slots: 7, done: 1, failed: 0, pending: 6 })

    // Cancel: the queued run and the five waiting slots.
    expect(await cancelBackfill(db, alice, schedule.id, backfillId)).toBe(6)
    expect((await db.job.findUniqueOrThrow({ where: { id: second[0]!.id } })).status).toBe('cancelled')
    expect((await feedBackfills(db, LIMITS)).created).toEqual([])
    expect((await listBackfills(db, alice, schedule.id))[0]).toMatchObject({ done: 1, failed: 1, pending: 0, cancelled_at: expect.any(String) })
    await expect(cancelBackfill(db, alice, schedule.id, '00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ statusCode: 404 })
    // Its unstarted slots can be backfilled again.
    expect((await createBackfill(db, LIMITS, alice, schedule.id, { start: '2026-11-01T00:00:00Z', end: '2026-11-08T00:00:00Z' }, NOW)).slots).toBe(5)
  })

  it('minute cadences: every 5 minutes; faster crons refused; a slot that comes while the previous run is running is skipped and counted', async () => {
    await expect(createSchedule(db, LIMITS, alice, body({ cadence: { cron: '*/2 * * * *', time_zone: 'UTC' } }), NOW)).rejects.toMatchObject({ errors: [{ field: 'cadence.cron', message: expect.stringMatching(/every 5 minutes/) }] })
    await expect(createSchedule(db, { ...LIMITS, SCHEDULES_MIN_INTERVAL_MINUTES: 15 }, alice, body({ cadence: { frequency: 'minutes', every: 10, time_zone: 'UTC' } }), NOW)).rejects.toBeInstanceOf(ValidationError)
    expect(() => body({ cadence: { frequency: 'minutes', every: 7, time_zone: 'UTC' } as never })).toThrow()
    const schedule = await createSchedule(db, LIMITS, alice, body({ cadence: { frequency: 'minutes', every: 5, time_zone: 'Asia/Kolkata' } }), at('2026-12-06T12:01:00Z'))
    expect(schedule.nextRunAt).toEqual(at('2026-12-06T12:05:00Z'))
    const pass = await runDueSchedules(db, { now: at('2026-12-06T12:05:02Z'), limits: LIMITS })
    expect(pass.created.map(j => j.scheduledFor)).toEqual([at('2026-12-06T12:05:00Z')])
    // Still running at the next slot: skipped, counted, the slot after is next.
    await db.job.update({ where: { id: pass.created[0]!.id }, data: { status: 'running' } })
    const skipped = await runDueSchedules(db, { now: at('2026-12-06T12:10:01Z'), limits: LIMITS })
    expect(skipped).toMatchObject({ created: [], skipped: 1 })
    const after = (await findUserSchedule(db, alice, schedule.id))!
    expect(after.nextRunAt).toEqual(at('2026-12-06T12:15:00Z'))
    expect((await toScheduleDTOs(db, [after]))[0]!.missed_slots).toBe(1)
    await db.job.update({ where: { id: pass.created[0]!.id }, data: { status: 'completed', completedAt: new Date() } })
    expect((await runDueSchedules(db, { now: at('2026-12-06T12:15:01Z'), limits: LIMITS })).created).toHaveLength(1)
  })

  it('two scheduler processes × 100 five-minute schedules over two slots: exactly one job per slot', async () => {
    const template = await createSchedule(db, LIMITS, alice, body({ cadence: { frequency: 'minutes', every: 5, time_zone: 'Europe/London' } }), at('2026-12-06T11:59:00Z'))
    const { id: _id, createdAt: _c, updatedAt: _u, ...row } = (await db.schedule.findUnique({ where: { id: template.id } }))!
    await db.schedule.createMany({ data: Array.from({ length: 99 }, () => ({ ...row, request: row.request!, range: row.range!, cadence: row.cadence!, channels: row.channels ?? undefined })) })
    const run = promisify(execFile)
    for (const [i, now] of ['2026-12-06T12:00:10Z', '2026-12-06T12:05:10Z'].entries()) {
      const env = { ...process.env, DATABASE_URL: database.url, OUTPORT_NOW: now, OUTPORT_BATCH: '7' }
      const outputs = await Promise.all([0, 1].map(() => run('node_modules/.bin/tsx', ['tests/helpers/scheduler-process.ts'], { env })))
      const created = outputs.flatMap(o => JSON.parse(o.stdout) as string[])
      expect(created).toHaveLength(100)
      expect(new Set(created).size).toBe(100)
      // The previous slot's runs finished before the next slot (none skipped).
      await db.job.updateMany({ data: { status: 'completed', completedAt: new Date() } })
      expect(await db.job.count()).toBe(100 * (i + 1))
    }
    const rows = await db.job.groupBy({ by: ['scheduleId', 'scheduledFor'], _count: true })
    expect(rows).toHaveLength(200)
    expect(rows.every(r => r._count === 1)).toBe(true)
    expect(await db.schedule.count({ where: { nextRunAt: at('2026-12-06T12:10:00Z') } })).toBe(100)
  }, 180_000)
})
