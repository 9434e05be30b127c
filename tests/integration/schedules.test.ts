import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createDb, type Db } from '#server/lib/db/client'
import { scheduleRuns } from '#server/lib/exports/jobs/scheduled'
import { listUserExports } from '#server/lib/exports/jobs/history'
import { createSchedule, deleteSchedule, findUserSchedule, listUserSchedules, scheduleChannels, toScheduleDTOs, updateSchedule } from '#server/lib/schedules/store'
import { runDueSchedules, runScheduleNow, settleSchedule } from '#server/lib/schedules/scheduler'
import { RequestError, ValidationError } from '#server/lib/validation'
import type { RowFilter } from '#shared/types/row-filters'
import { CreateScheduleSchema, type CreateScheduleInput } from '#shared/types/schedules'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

const TRANSACTIONS = '054f17bf-1dbb-43ed-98c3-b4858093d7fc'
const MONTHLY = 'f586dc33-1f30-43db-9a15-48d593239fae'
const LIMITS = { SCHEDULES_MAX_PER_USER: 25, EXPORT_MAX_RANGE_DAYS: undefined as number | undefined, SCHEDULES_DISABLE_AFTER_FAILURES: 3, EXPORT_MAX_ACTIVE_PER_USER: 3 }
const at = (s: string) => new Date(s)

const body = (over: Partial<CreateScheduleInput> = {}) => CreateScheduleSchema.parse({
  dataset_id: TRANSACTIONS,
  format: 'csv',
  range: 'previous_week',
  cadence: { frequency: 'weekly', weekday: 1, time: '08:00', time_zone: 'Europe/London' },
  name: 'Weekly transactions',
  ...over
})

describe('schedules engine (PostgreSQL, injected clock)', () => {
  let database: TestDatabase
  let db: Db
  let alice: string
  let bob: string

  beforeAll(async () => {
    database = await createTestDatabase()
    db = createDb(database.url, { max: 12 })
    alice = (await db.user.create({ data: { email: 'alice@example.com', passwordHash: 'x', displayName: 'Alice' } })).id
    bob = (await db.user.create({ data: { email: 'bob@example.com', passwordHash: 'x', displayName: 'Bob' } })).id
  })
  afterAll(async () => {
    await db?.$disconnect()
    await database?.drop()
  })
  beforeEach(async () => {
    await db.job.deleteMany()
    await db.schedule.deleteMany()
  })

  it('creates with next_run_at in the time zone; a due schedule runs once with its range resolved at the slot', async () => {
    // Thursday 26 Feb 2026: next is Monday 2 March 08:00 GMT.
    const schedule = await createSchedule(db, LIMITS, alice, body(), at('2026-02-26T10:00:00Z'))
    expect(schedule.nextRunAt).toEqual(at('2026-03-02T08:00:00Z'))
    expect((await runDueSchedules(db, { now: at('2026-03-02T07:59:59Z'), limits: LIMITS })).created).toEqual([])
    const pass = await runDueSchedules(db, { now: at('2026-03-02T08:00:20Z'), limits: LIMITS })
    expect(pass.created).toHaveLength(1)
    const [job] = pass.created
    expect(job!.scheduleId).toBe(schedule.id)
    expect(job!.scheduledFor).toEqual(at('2026-03-02T08:00:00Z'))
    expect(job!.metadata.filters).toMatchObject({ start_date: '2026-02-23', end_date: '2026-03-01' })
    expect(job!.metadata.schedule).toEqual({ name: 'Weekly transactions', trigger: 'cadence', missed_slots: 0 })
    expect((await findUserSchedule(db, alice, schedule.id))!.nextRunAt).toEqual(at('2026-03-09T08:00:00Z'))
    // The same minute again: nothing more.
    expect((await runDueSchedules(db, { now: at('2026-03-02T08:00:50Z'), limits: LIMITS })).created).toEqual([])
    // The exports list filters by schedule.
    const page = await listUserExports(db, alice, { limit: 10, schedule_id: schedule.id })
    expect(page!.jobs.map(j => j.id)).toEqual([job!.id])
  })

  it('two scheduler processes × 200 due schedules: exactly one job per slot', async () => {
    const cadence = { frequency: 'daily' as const, time: '06:00', time_zone: 'UTC' }
    const template = await createSchedule(db, LIMITS, alice, body({ cadence, range: 'previous_day' }), at('2026-05-01T00:00:00Z'))
    const { id: _id, createdAt: _c, updatedAt: _u, ...row } = (await db.schedule.findUnique({ where: { id: template.id } }))!
    await db.schedule.createMany({ data: Array.from({ length: 199 }, (_, i) => ({ ...row, userId: i % 2 ? alice : bob, request: row.request!, range: row.range!, cadence: row.cadence!, channels: row.channels ?? undefined })) })
    const run = promisify(execFile)
    const env = { ...process.env, DATABASE_URL: database.url, OUTPORT_NOW: '2026-05-01T06:00:30Z', OUTPORT_BATCH: '7' }
    const outputs = await Promise.all([0, 1].map(() => run('node_modules/.bin/tsx', ['tests/helpers/scheduler-process.ts'], { env })))
    const created = outputs.map(o => JSON.parse(o.stdout) as string[])
    // Together they created one job per schedule, none twice.
    expect(created.flat()).toHaveLength(200)
    expect(new Set(created.flat()).size).toBe(200)
    const rows = await db.job.groupBy({ by: ['scheduleId', 'scheduledFor'], _count: true })
    expect(rows).toHaveLength(200)
    expect(rows.every(r => r._count === 1)).toBe(true)
    expect(await db.schedule.count({ where: { nextRunAt: at('2026-05-02T06:00:00Z') } })).toBe(200)
  }, 120_000)

  it('catch-up after downtime: one run for the latest missed slot, saying how many it skipped', async () => {
    const daily = body({ cadence: { frequency: 'daily', time: '08:00', time_zone: 'Europe/London' }, range: 'previous_day' })
    const schedule = await createSchedule(db, LIMITS, alice, daily, at('2026-06-01T00:00:00Z'))
    // Down from 1 June to 4 June 12:00 (BST, 08:00 local is 07:00 UTC).
    const pass = await runDueSchedules(db, { now: at('2026-06-04T11:00:00Z'), limits: LIMITS })
    expect(pass.created).toHaveLength(1)
    expect(pass.created[0]!.scheduledFor).toEqual(at('2026-06-04T07:00:00Z'))
    expect(pass.created[0]!.metadata.schedule!.missed_slots).toBe(3)
    expect(pass.created[0]!.metadata.filters).toMatchObject({ start_date: '2026-06-03', end_date: '2026-06-03' })
    expect((await findUserSchedule(db, alice, schedule.id))!.nextRunAt).toEqual(at('2026-06-05T07:00:00Z'))
  })

  it('scheduled runs queue past EXPORT_MAX_ACTIVE_PER_USER; run-now is refused there (429) like a new export', async () => {
    const cadence = { frequency: 'daily' as const, time: '06:00', time_zone: 'UTC' }
    for (let i = 0; i < 5; i++) await createSchedule(db, LIMITS, alice, body({ cadence }), at('2026-05-01T00:00:00Z'))
    const pass = await runDueSchedules(db, { now: at('2026-05-01T06:01:00Z'), limits: LIMITS })
    expect(pass.created).toHaveLength(5)
    expect(pass.created.every(j => j.status === 'pending')).toBe(true)
    const [first] = await listUserSchedules(db, alice)
    await expect(runScheduleNow(db, LIMITS, alice, first!.id, at('2026-05-01T09:00:00Z'))).rejects.toMatchObject({ statusCode: 429 })
  })

  it('run-now counts as a run and leaves the cadence alone; another user\'s schedule is not found', async () => {
    const schedule = await createSchedule(db, LIMITS, alice, body(), at('2026-02-26T10:00:00Z'))
    const { job } = await runScheduleNow(db, LIMITS, alice, schedule.id, at('2026-02-26T11:00:00Z'))
    expect(job).toMatchObject({ status: 'pending', scheduleId: schedule.id, scheduledFor: at('2026-02-26T11:00:00Z') })
    expect(job.metadata.schedule!.trigger).toBe('run_now')
    expect(job.metadata.filters).toMatchObject({ start_date: '2026-02-16', end_date: '2026-02-22' })
    expect((await scheduleRuns(db, [schedule.id])).get(schedule.id)!.last).toEqual({ jobId: job.id, status: 'pending', at: at('2026-02-26T11:00:00Z') })
    expect((await findUserSchedule(db, alice, schedule.id))!.nextRunAt).toEqual(at('2026-03-02T08:00:00Z'))

    await expect(runScheduleNow(db, LIMITS, bob, schedule.id)).rejects.toMatchObject({ statusCode: 404 })
    expect(await findUserSchedule(db, bob, schedule.id)).toBeNull()
    await expect(updateSchedule(db, LIMITS, bob, schedule.id, { enabled: false })).rejects.toMatchObject({ statusCode: 404 })
    expect(await deleteSchedule(db, bob, schedule.id)).toBe(false)
    expect(await listUserSchedules(db, bob)).toEqual([])
  })

  it('recent runs: each schedule\'s latest 10 by creation, newest first, for many schedules in one query; the last run is the latest slot', async () => {
    const cadence = { frequency: 'daily' as const, time: '06:00', time_zone: 'UTC' }
    const a = await createSchedule(db, LIMITS, alice, body({ cadence }), at('2026-05-01T00:00:00Z'))
    const b = await createSchedule(db, LIMITS, alice, body({ cadence }), at('2026-05-01T00:00:00Z'))
    for (let day = 1; day <= 12; day++) {
      await runDueSchedules(db, { now: at(`2026-05-${String(day).padStart(2, '0')}T06:01:00Z`), limits: LIMITS })
      await db.job.updateMany({ where: { scheduleId: { in: [a.id, b.id] }, status: 'pending' }, data: { status: 'completed' } })
    }
    const runs = await scheduleRuns(db, [a.id, b.id])
    const jobs = await db.job.findMany({ where: { scheduleId: a.id }, orderBy: { createdAt: 'desc' } })
    expect(jobs).toHaveLength(12)
    expect(runs.get(a.id)!.recent).toEqual(jobs.slice(0, 10).map(j => ({ id: j.id, status: 'completed', createdAt: j.createdAt })))
    expect(runs.get(b.id)!.recent).toHaveLength(10)
    expect(runs.get(a.id)!.last).toEqual({ jobId: jobs[0]!.id, status: 'completed', at: at('2026-05-12T06:00:00Z') })
    const [dto] = await toScheduleDTOs(db, [(await findUserSchedule(db, alice, a.id))!])
    expect(dto!.recent_runs.map(r => r.id)).toEqual(jobs.slice(0, 10).map(j => j.id))
    // A schedule without runs has none.
    const c = await createSchedule(db, LIMITS, alice, body(), at('2026-05-01T00:00:00Z'))
    expect((await scheduleRuns(db, [c.id])).get(c.id)).toEqual({ last: null, recent: [] })
  })

  it('pause and resume: paused schedules do not run; resuming continues from now without catching up', async () => {
    const schedule = await createSchedule(db, LIMITS, alice, body({ cadence: { frequency: 'daily', time: '08:00', time_zone: 'UTC' } }), at('2026-05-01T00:00:00Z'))
    const paused = await updateSchedule(db, LIMITS, alice, schedule.id, { enabled: false }, at('2026-05-01T01:00:00Z'))
    expect(paused).toMatchObject({ enabled: false, nextRunAt: null })
    expect((await runDueSchedules(db, { now: at('2026-05-05T12:00:00Z'), limits: LIMITS })).created).toEqual([])
    const resumed = await updateSchedule(db, LIMITS, alice, schedule.id, { enabled: true }, at('2026-05-05T12:00:00Z'))
    expect(resumed).toMatchObject({ enabled: true, nextRunAt: at('2026-05-06T08:00:00Z') })
    expect((await runDueSchedules(db, { now: at('2026-05-05T12:01:00Z'), limits: LIMITS })).created).toEqual([])
  })

  it('deleted accounts make a failed run (FILTERS_GONE); after the limit in a row the schedule pauses itself, once', async () => {
    const account = await db.account.create({ data: { userId: alice, name: 'Current account' } })
    const daily = body({ account_ids: [account.id], cadence: { frequency: 'daily', time: '08:00', time_zone: 'UTC' } })
    const schedule = await createSchedule(db, LIMITS, alice, daily, at('2026-05-01T00:00:00Z'))
    await db.account.delete({ where: { id: account.id } })
    const paused = []
    for (let day = 1; day <= 3; day++) {
      const pass = await runDueSchedules(db, { now: at(`2026-05-0${day}T08:00:10Z`), limits: LIMITS })
      expect(pass.failed).toHaveLength(1)
      expect(pass.failed[0]!.error).toMatchObject({ code: 'FILTERS_GONE', message: expect.stringMatching(/accounts no longer exist/) })
      paused.push(...pass.paused)
    }
    expect(paused).toHaveLength(1)
    expect(paused[0]!.failures).toBe(3)
    const now = await findUserSchedule(db, alice, schedule.id)
    expect(now).toMatchObject({ enabled: false, nextRunAt: null, consecutiveFailures: 3, pausedReason: expect.stringMatching(/3 failed runs/) })
    expect((await runDueSchedules(db, { now: at('2026-05-04T08:00:10Z'), limits: LIMITS })).failed).toEqual([])
    // Settling again is idempotent: no second pause.
    expect(await settleSchedule(db, schedule.id, 3)).toBeNull()
  })

  it('saves row filters normalised, puts them on every run; a condition whose column left the dataset fails the run (FILTER_COLUMN_GONE) and pauses the schedule', async () => {
    const ACCOUNT = 'a1a1a1a1-0000-4000-8000-0000000000aa'
    const conditions: RowFilter[] = [{ column: 'amount', op: 'lt', value: -100 }, { column: 'account_id', op: 'in', value: [ACCOUNT.toUpperCase(), ACCOUNT] }]
    const daily = body({ row_filters: conditions, cadence: { frequency: 'daily', time: '08:00', time_zone: 'UTC' } })
    const schedule = await createSchedule(db, LIMITS, alice, daily, at('2026-05-01T00:00:00Z'))
    const normalised = [{ column: 'amount', op: 'lt', value: -100 }, { column: 'account_id', op: 'in', value: [ACCOUNT] }]
    expect(schedule.request.row_filters).toEqual(normalised)
    expect((await toScheduleDTOs(db, [schedule]))[0]!.request.row_filters).toEqual(normalised)
    const first = await runDueSchedules(db, { now: at('2026-05-01T08:00:10Z'), limits: LIMITS })
    expect(first.created[0]!.metadata.filters.row_filters).toEqual(normalised)
    await db.job.update({ where: { id: first.created[0]!.id }, data: { status: 'completed', completedAt: new Date() } })
    // The dataset no longer has the column (as a manifest change would leave the saved request).
    await db.schedule.update({ where: { id: schedule.id }, data: { request: { ...schedule.request, row_filters: [{ column: 'old_amount', op: 'lt', value: -100 }] } } })
    const paused = []
    for (let day = 2; day <= 4; day++) {
      const pass = await runDueSchedules(db, { now: at(`2026-05-0${day}T08:00:10Z`), limits: LIMITS })
      expect(pass.failed[0]!.error).toMatchObject({ code: 'FILTER_COLUMN_GONE', message: expect.stringContaining('old_amount') })
      paused.push(...pass.paused)
    }
    expect(paused).toHaveLength(1)
    expect(await findUserSchedule(db, alice, schedule.id)).toMatchObject({ enabled: false, consecutiveFailures: 3 })
  })

  it('refuses a condition that does not fit its column, naming it', async () => {
    const error = await createSchedule(db, LIMITS, alice, body({ row_filters: [{ column: 'merchant', op: 'eq', value: 'x' }, { column: 'amount', op: 'contains', value: 'x' }] })).catch(e => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect(error.errors).toEqual([{ field: 'row_filters[1].op', message: '`contains` is for text columns; amount is DECIMAL(18,2): use eq, ne, in, not_in, lt, lte, gt, gte, between, is_null, is_not_null' }])
  })

  it('a completed run resets the failure count', async () => {
    const schedule = await createSchedule(db, LIMITS, alice, body({ cadence: { frequency: 'daily', time: '08:00', time_zone: 'UTC' } }), at('2026-05-01T00:00:00Z'))
    const first = (await runDueSchedules(db, { now: at('2026-05-01T08:00:10Z'), limits: LIMITS })).created[0]!
    await db.job.update({ where: { id: first.id }, data: { status: 'failed', completedAt: new Date() } })
    expect(await settleSchedule(db, schedule.id, 3)).toBeNull()
    expect((await findUserSchedule(db, alice, schedule.id))!.consecutiveFailures).toBe(1)
    const second = (await runDueSchedules(db, { now: at('2026-05-02T08:00:10Z'), limits: LIMITS })).created[0]!
    await db.job.update({ where: { id: second.id }, data: { status: 'completed', completedAt: new Date() } })
    await settleSchedule(db, schedule.id, 3)
    expect((await findUserSchedule(db, alice, schedule.id))!.consecutiveFailures).toBe(0)
  })

  it('a run the user deleted counts as what it was: with a file a success, without one neither way; schedule_id combines with status', async () => {
    const schedule = await createSchedule(db, LIMITS, alice, body({ cadence: { frequency: 'daily', time: '08:00', time_zone: 'UTC' } }), at('2026-05-01T00:00:00Z'))
    const run = async (day: number) => (await runDueSchedules(db, { now: at(`2026-05-0${day}T08:00:10Z`), limits: LIMITS })).created[0]!
    const failed = async (day: number) => db.job.update({ where: { id: (await run(day)).id }, data: { status: 'failed', completedAt: new Date() } })
    await failed(1)
    await failed(2)
    // Completed, then deleted by the user: its metadata keeps the file's key.
    const good = await run(3)
    await db.job.update({ where: { id: good.id }, data: { status: 'deleted', deletedAt: new Date(), completedAt: new Date(), metadata: { ...(good.metadata as object), s3_key: `exports/${alice}/${good.id}.csv` } } })
    await failed(4)
    expect(await settleSchedule(db, schedule.id, 3)).toBeNull()
    expect((await findUserSchedule(db, alice, schedule.id))!.consecutiveFailures).toBe(1)
    // A failed run deleted afterwards has no file: it neither breaks nor extends the streak.
    const gone = await failed(5)
    await db.job.update({ where: { id: gone.id }, data: { status: 'deleted', deletedAt: new Date() } })
    await settleSchedule(db, schedule.id, 3)
    expect((await findUserSchedule(db, alice, schedule.id))!.consecutiveFailures).toBe(1)

    const page = await listUserExports(db, alice, { limit: 10, schedule_id: schedule.id.toUpperCase(), status: ['deleted'] })
    expect(page!.jobs.map(j => j.id).sort()).toEqual([good.id, gone.id].sort())
    expect((await listUserExports(db, alice, { limit: 10, schedule_id: schedule.id, status: ['failed'] }))!.jobs).toHaveLength(3)
    expect((await listUserExports(db, bob, { limit: 10, schedule_id: schedule.id }))!.jobs).toEqual([])
  })

  it('limits and validation: per-user count, cron faster than every 5 minutes, range vs dataset, another user\'s tags', async () => {
    const small = { ...LIMITS, SCHEDULES_MAX_PER_USER: 2 }
    await createSchedule(db, small, alice, body())
    await createSchedule(db, small, alice, body())
    const tooMany = await createSchedule(db, small, alice, body()).catch(e => e)
    expect(tooMany).toBeInstanceOf(ValidationError)
    expect(tooMany.message).toMatch(/limit is 2/)
    const fieldsOf = async (b: ReturnType<typeof body>, limits = LIMITS) => ((await createSchedule(db, limits, bob, b).catch(e => e)) as ValidationError).errors?.map(e => e.field)
    expect(await fieldsOf(body({ cadence: { cron: '*/2 * * * *', time_zone: 'UTC' } }))).toEqual(['cadence.cron'])
    expect(await fieldsOf(body({ dataset_id: MONTHLY, range: 'previous_day' }))).toEqual(['range'])
    expect(await fieldsOf(body({ range: 'all_dates' }), { ...LIMITS, EXPORT_MAX_RANGE_DAYS: 31 })).toEqual(['range'])
    const alicesTag = await db.tag.create({ data: { userId: alice, name: 'Groceries' } })
    expect(await fieldsOf(body({ tag_ids: [alicesTag.id] }))).toEqual(['tag_ids'])
    await expect(createSchedule(db, LIMITS, bob, body({ dataset_id: '00000000-0000-4000-8000-000000000000' }))).rejects.toBeInstanceOf(RequestError)
  })

  it('deleting a schedule keeps its runs in the history (schedule_id becomes null)', async () => {
    const schedule = await createSchedule(db, LIMITS, alice, body())
    const { job } = await runScheduleNow(db, LIMITS, alice, schedule.id)
    expect(await deleteSchedule(db, alice, schedule.id)).toBe(true)
    expect(await db.job.findUnique({ where: { id: job.id }, select: { scheduleId: true } })).toEqual({ scheduleId: null })
  })

  it('channels: null by default (the user\'s settings); set, changed and cleared; shown by the DTO; validated', async () => {
    const plain = await createSchedule(db, LIMITS, alice, body())
    expect(plain.channels).toBeNull()
    expect(await scheduleChannels(db, plain.id)).toBeNull()
    const chosen = await createSchedule(db, LIMITS, alice, body({ channels: { email: false, webhooks: true } }))
    expect(chosen.channels).toEqual({ email: false, webhooks: true })
    expect((await toScheduleDTOs(db, [chosen]))[0]!.channels).toEqual({ email: false, webhooks: true })
    // A PATCH that leaves channels out keeps them; a new choice replaces the old one whole.
    expect((await updateSchedule(db, LIMITS, alice, chosen.id, { name: 'Renamed' })).channels).toEqual({ email: false, webhooks: true })
    expect((await updateSchedule(db, LIMITS, alice, chosen.id, { channels: { telegram: false } })).channels).toEqual({ telegram: false })
    expect(await scheduleChannels(db, chosen.id)).toEqual({ telegram: false })
    // null, or an empty choice, goes back to the user's settings.
    expect((await updateSchedule(db, LIMITS, alice, chosen.id, { channels: null })).channels).toBeNull()
    expect((await updateSchedule(db, LIMITS, alice, chosen.id, { channels: {} })).channels).toBeNull()
    expect(CreateScheduleSchema.safeParse({ ...body(), channels: { sms: true } }).success).toBe(false)
    expect(CreateScheduleSchema.safeParse({ ...body(), channels: { email: 'yes' } }).success).toBe(false)
  })
})
