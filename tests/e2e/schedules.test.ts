import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { DATASETS } from '#server/lib/warehouse/datasets'
import type { ScheduleDTO } from '#shared/types/schedules'
import { client } from '../helpers/http'
import { useServerSuite } from '../helpers/suite'

const [TRANSACTIONS, , MONTHLY] = DATASETS.map(d => d.id) as [string, string, string]

const SCHEDULE = {
  dataset_id: TRANSACTIONS,
  format: 'csv',
  range: 'previous_week',
  cadence: { frequency: 'weekly', weekday: 1, time: '08:00', time_zone: 'Europe/London' },
  name: 'Weekly transactions'
}

describe('schedules API (shared server)', () => {
  const baseUrl = inject('baseUrl')
  const demo = inject('demo')
  const [alice, bob] = demo.users as [typeof demo.users[0], typeof demo.users[0]]
  const { api, postJson, waitForExport } = client(baseUrl)
  const send = (method: string, path: string, token: string, body?: unknown) => api(path, {
    method, token, ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  })

  it('creates (201), lists, reads, runs now (202, an ordinary export tagged with the schedule), pauses, deletes', async () => {
    const created = await postJson('/api/analytics/schedules', { ...SCHEDULE, account_ids: alice.account_ids.slice(0, 1) }, { token: alice.token })
    expect(created.status).toBe(201)
    const schedule = await created.json() as ScheduleDTO
    expect(schedule).toMatchObject({ name: 'Weekly transactions', enabled: true, range: 'previous_week', last_run: null, consecutive_failures: 0 })
    expect(schedule.request).toEqual({ dataset_id: TRANSACTIONS, format: 'csv', account_ids: alice.account_ids.slice(0, 1).map(id => id.toLowerCase()) })
    // Next Monday 08:00 London: 07:00 or 08:00 UTC.
    const next = new Date(schedule.next_run_at!)
    expect(next.getUTCDay()).toBe(1)
    expect([7, 8]).toContain(next.getUTCHours())

    const list = await (await api('/api/analytics/schedules', { token: alice.token })).json() as { schedules: ScheduleDTO[] }
    expect(list.schedules.map(s => s.id)).toContain(schedule.id)

    const run = await send('POST', `/api/analytics/schedules/${schedule.id}/run`, alice.token)
    expect(run.status).toBe(202)
    const started = await run.json()
    expect(started).toEqual({ job_id: expect.any(String), status: 'pending', message: expect.any(String) })
    const job = await waitForExport(alice.token, started.job_id)
    expect(job).toMatchObject({ status: 'completed', schedule_id: schedule.id, schedule_run: { name: 'Weekly transactions', trigger: 'run_now', missed_slots: 0 } })
    expect(job.filters.start_date).toMatch(/^\d{4}-\d{2}-\d{2}$/)

    const filtered = await (await api(`/api/analytics/exports?schedule_id=${schedule.id}`, { token: alice.token })).json()
    expect(filtered.exports.map((e: { job_id: string }) => e.job_id)).toEqual([started.job_id])
    // schedule_id combines with the history's other filters.
    const completedRuns = await (await api(`/api/analytics/exports?schedule_id=${schedule.id}&status=completed&dataset_id=${TRANSACTIONS}`, { token: alice.token })).json()
    expect(completedRuns.exports.map((e: { job_id: string }) => e.job_id)).toEqual([started.job_id])
    expect((await (await api(`/api/analytics/exports?schedule_id=${schedule.id}&status=failed`, { token: alice.token })).json()).exports).toEqual([])
    // Run now is a person starting an export: it is in their audit trail.
    const events = (await (await api('/api/audit?limit=100', { token: alice.token })).json()).events as Array<{ action: string, object_id: string, details: Record<string, unknown> }>
    expect(events.find(e => e.action === 'export.created' && e.object_id === started.job_id)?.details).toMatchObject({ schedule_id: schedule.id, trigger: 'run_now' })
    const read = await (await api(`/api/analytics/schedules/${schedule.id}`, { token: alice.token })).json() as ScheduleDTO
    expect(read.last_run).toMatchObject({ job_id: started.job_id, status: 'completed' })

    const paused = await (await send('PATCH', `/api/analytics/schedules/${schedule.id}`, alice.token, { enabled: false })).json() as ScheduleDTO
    expect(paused).toMatchObject({ enabled: false, next_run_at: null })
    const resumed = await (await send('PATCH', `/api/analytics/schedules/${schedule.id}`, alice.token, { enabled: true, cadence: { frequency: 'monthly', day_of_month: 'last', time: '18:30', time_zone: 'America/New_York' } })).json() as ScheduleDTO
    expect(resumed.enabled).toBe(true)
    expect(resumed.next_run_at).not.toBeNull()

    expect((await send('DELETE', `/api/analytics/schedules/${schedule.id}`, alice.token)).status).toBe(204)
    expect((await api(`/api/analytics/schedules/${schedule.id}`, { token: alice.token })).status).toBe(404)
    // The run stays in the history.
    expect((await api(`/api/analytics/exports/${started.job_id}`, { token: alice.token })).status).toBe(200)
  })

  it('another user\'s schedule is a 404 for every route', async () => {
    const schedule = await (await postJson('/api/analytics/schedules', SCHEDULE, { token: alice.token })).json() as ScheduleDTO
    const path = `/api/analytics/schedules/${schedule.id}`
    expect((await api(path, { token: bob.token })).status).toBe(404)
    expect((await send('PATCH', path, bob.token, { enabled: false })).status).toBe(404)
    expect((await send('POST', `${path}/run`, bob.token)).status).toBe(404)
    expect((await send('POST', `${path}/reset`, bob.token, { watermark: null })).status).toBe(404)
    expect((await send('POST', `${path}/backfill`, bob.token, { start: '2026-11-01T00:00:00Z', end: '2026-11-02T00:00:00Z' })).status).toBe(404)
    expect((await api(`${path}/backfills`, { token: bob.token })).status).toBe(404)
    expect((await send('DELETE', `${path}/backfills/00000000-0000-4000-8000-000000000000`, bob.token)).status).toBe(404)
    expect((await send('DELETE', path, bob.token)).status).toBe(404)
    const bobs = await (await api('/api/analytics/schedules', { token: bob.token })).json() as { schedules: ScheduleDTO[] }
    expect(bobs.schedules.map(s => s.id)).not.toContain(schedule.id)
    expect((await api(path, { token: alice.token })).status).toBe(200)
    await send('DELETE', path, alice.token)
  })

  it('PATCH changes the saved request field by field (format, compression, columns, accounts, conditions); recent_runs lists the latest runs, newest first', async () => {
    const schedule = await (await postJson('/api/analytics/schedules', SCHEDULE, { token: alice.token })).json() as ScheduleDTO
    expect(schedule.recent_runs).toEqual([])
    const path = `/api/analytics/schedules/${schedule.id}`
    const columns = DATASETS[0]!.columns.slice(0, 3).map(c => c.name)
    const changes = { format: 'json', compression: 'gzip', columns, account_ids: alice.account_ids.slice(0, 1), row_filters: [{ column: 'amount', op: 'gt', value: 5 }] }
    const patched = await send('PATCH', path, alice.token, changes)
    expect(patched.status).toBe(200)
    const expected = { ...changes, dataset_id: TRANSACTIONS, account_ids: changes.account_ids.map(id => id.toLowerCase()) }
    expect((await patched.json() as ScheduleDTO).request).toEqual(expected)
    expect((await (await api(path, { token: alice.token })).json() as ScheduleDTO).request).toEqual(expected)
    // null clears a field (all columns again); a bad one is a 400 naming it.
    expect((await (await send('PATCH', path, alice.token, { columns: null })).json() as ScheduleDTO).request.columns).toBeNull()
    const bad = await send('PATCH', path, alice.token, { row_filters: [{ column: 'nope', op: 'eq', value: 1 }] })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(await bad.json())).toContain('row_filters')

    const jobs: string[] = []
    for (let i = 0; i < 2; i++) {
      const run = await (await send('POST', `${path}/run`, alice.token)).json()
      await waitForExport(alice.token, run.job_id)
      jobs.unshift(run.job_id)
    }
    const listed = (await (await api('/api/analytics/schedules', { token: alice.token })).json() as { schedules: ScheduleDTO[] }).schedules.find(s => s.id === schedule.id)!
    expect(listed.recent_runs).toEqual(jobs.map(id => ({ id, status: 'completed', created_at: expect.any(String) })))
    expect(Date.parse(listed.recent_runs[0]!.created_at)).toBeGreaterThanOrEqual(Date.parse(listed.recent_runs[1]!.created_at))
    await send('DELETE', path, alice.token)
  })

  it('incremental: only new rows (data_as_of, incremental_from, the watermark); reset (audited); aggregated datasets and backfills refuse it (400)', async () => {
    const created = await postJson('/api/analytics/schedules', { ...SCHEDULE, range: { type: 'since_last_run', initial: 'all' }, cadence: { frequency: 'minutes', every: 15, time_zone: 'UTC' }, account_ids: alice.account_ids.slice(0, 1) }, { token: alice.token })
    expect(created.status).toBe(201)
    const schedule = await created.json() as ScheduleDTO
    expect(schedule).toMatchObject({ watermark: null, missed_slots: 0, cadence: { frequency: 'minutes', every: 15 } })
    const path = `/api/analytics/schedules/${schedule.id}`
    const runOnce = async () => waitForExport(alice.token, (await (await send('POST', `${path}/run`, alice.token)).json()).job_id)
    const first = await runOnce()
    expect(first).toMatchObject({ status: 'completed', incremental_from: null, data_as_of: expect.stringMatching(/Z$/) })
    expect(first.row_count).toBeGreaterThan(0)
    expect((await (await api(path, { token: alice.token })).json()).watermark).toBe(first.data_as_of)
    // The warehouse has not been loaded since: header only.
    const second = await runOnce()
    expect(second).toMatchObject({ status: 'completed', row_count: 0, incremental_from: first.data_as_of, data_as_of: first.data_as_of })

    const reset = await send('POST', `${path}/reset`, alice.token, { watermark: null })
    expect(reset.status).toBe(200)
    expect((await reset.json()).watermark).toBeNull()
    expect((await send('POST', `${path}/reset`, alice.token, { watermark: 'yesterday' })).status).toBe(400)
    const third = await runOnce()
    expect(third.row_count).toBe(first.row_count)
    const events = (await (await api('/api/audit?limit=100', { token: alice.token })).json()).events as Array<{ action: string, object_id: string }>
    expect(events.some(e => e.action === 'schedule.watermark_reset' && e.object_id === schedule.id)).toBe(true)

    const backfill = await send('POST', `${path}/backfill`, alice.token, { start: '2026-11-01T00:00:00Z', end: '2026-11-02T00:00:00Z' })
    expect(backfill.status).toBe(400)
    expect((await backfill.json()).data.errors[0].field).toBe('range')
    const aggregated = await postJson('/api/analytics/schedules', { ...SCHEDULE, dataset_id: MONTHLY, range: { type: 'since_last_run', initial: 'all' } }, { token: alice.token })
    expect(aggregated.status).toBe(400)
    expect((await aggregated.json()).data.errors).toEqual([{ field: 'range', message: expect.stringMatching(/aggregated/) }])
    await send('DELETE', path, alice.token)
  })

  it('backfill: 202 with its slots, each run with the range of its slot; listed with counts; a repeat adds nothing; cancel; too many slots (400)', async () => {
    const schedule = await (await postJson('/api/analytics/schedules', { ...SCHEDULE, range: 'previous_day', cadence: { frequency: 'daily', time: '06:00', time_zone: 'Europe/London' } }, { token: alice.token })).json() as ScheduleDTO
    const path = `/api/analytics/schedules/${schedule.id}`
    const window = { start: '2026-10-24T00:00:00Z', end: '2026-10-27T00:00:00Z' }
    const created = await send('POST', `${path}/backfill`, alice.token, window)
    expect(created.status).toBe(202)
    const { backfill_id: backfillId, slots } = await created.json()
    expect(slots).toBe(3)
    // 06:00 London: BST until 25 October, then GMT.
    const runs = await waitForRuns(schedule.id, 3)
    expect(runs.map(r => [r.scheduled_for, r.filters.start_date, r.schedule_run.trigger])).toEqual([
      ['2026-10-24T05:00:00.000Z', '2026-10-23', 'backfill'],
      ['2026-10-25T06:00:00.000Z', '2026-10-24', 'backfill'],
      ['2026-10-26T06:00:00.000Z', '2026-10-25', 'backfill']
    ])
    const list = await (await api(`${path}/backfills`, { token: alice.token })).json()
    expect(list.backfills).toEqual([expect.objectContaining({ backfill_id: backfillId, slots: 3, done: 3, failed: 0, pending: 0 })])
    expect(await (await send('POST', `${path}/backfill`, alice.token, window)).json()).toMatchObject({ slots: 0 })
    const cancel = await send('DELETE', `${path}/backfills/${backfillId}`, alice.token)
    expect(cancel.status).toBe(200)
    expect(await cancel.json()).toEqual({ cancelled: 0 })
    const tooMany = await send('POST', `${path}/backfill`, alice.token, { start: '2024-01-01T00:00:00Z', end: '2026-01-01T00:00:00Z' })
    expect(tooMany.status).toBe(400)
    expect((await tooMany.json()).data.errors[0].message).toMatch(/more than 400 slots/)
    await send('DELETE', path, alice.token)
  })

  async function waitForRuns(scheduleId: string, count: number) {
    for (let i = 0; i < 600; i++) {
      const { exports } = await (await api(`/api/analytics/exports?schedule_id=${scheduleId}&limit=100`, { token: alice.token })).json()
      if (exports.length === count && exports.every((e: { status: string }) => e.status === 'completed')) {
        return (exports as Array<{ scheduled_for: string, filters: { start_date: string }, schedule_run: { trigger: string } }>).sort((a, b) => a.scheduled_for.localeCompare(b.scheduled_for))
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new Error(`schedule ${scheduleId}: ${count} completed runs did not appear`)
  }

  it('deleted accounts: each run fails with FILTERS_GONE; after SCHEDULES_DISABLE_AFTER_FAILURES (5) in a row the schedule pauses itself', async () => {
    const env = inject('env')
    const db = new pg.Client({ connectionString: env.DATABASE_URL })
    await db.connect()
    try {
      const { rows: [account] } = await db.query('INSERT INTO accounts (user_id, name) VALUES ($1, $2) RETURNING id', [bob.user_id, 'Closed account'])
      const created = await postJson('/api/analytics/schedules', { ...SCHEDULE, account_ids: [account.id] }, { token: bob.token })
      expect(created.status).toBe(201)
      const schedule = await created.json() as ScheduleDTO
      await db.query('DELETE FROM accounts WHERE id = $1', [account.id])
      for (let i = 1; i <= 5; i++) {
        const run = await send('POST', `/api/analytics/schedules/${schedule.id}/run`, bob.token)
        expect(run.status).toBe(202)
        const { job_id: jobId, status } = await run.json()
        expect(status).toBe('failed')
        const job = await (await api(`/api/analytics/exports/${jobId}`, { token: bob.token })).json()
        expect(job.error).toMatchObject({ code: 'FILTERS_GONE', message: expect.stringMatching(/accounts no longer exist/) })
        const now = await (await api(`/api/analytics/schedules/${schedule.id}`, { token: bob.token })).json() as ScheduleDTO
        expect(now).toMatchObject(i < 5
          ? { enabled: true, consecutive_failures: i }
          : { enabled: false, next_run_at: null, consecutive_failures: 5, paused_reason: 'Paused after 5 failed runs in a row' })
      }
      await send('DELETE', `/api/analytics/schedules/${schedule.id}`, bob.token)
    } finally {
      await db.end()
    }
  })

  it('row filters are saved normalised, re-applied on every run; a condition whose column left the dataset fails the run (FILTER_COLUMN_GONE) until it pauses', async () => {
    const env = inject('env')
    const rowFilters = [{ column: 'amount', op: 'lt', value: -10 }, { column: 'account_id', op: 'in', value: [alice.account_ids[0]!.toUpperCase()] }]
    const created = await postJson('/api/analytics/schedules', { ...SCHEDULE, range: 'all_dates', row_filters: rowFilters }, { token: alice.token })
    expect(created.status).toBe(201)
    const schedule = await created.json() as ScheduleDTO
    const normalised = [rowFilters[0], { column: 'account_id', op: 'in', value: [alice.account_ids[0]!.toLowerCase()] }]
    expect(schedule.request.row_filters).toEqual(normalised)
    const counts: number[] = []
    for (let i = 0; i < 2; i++) {
      const run = await (await send('POST', `/api/analytics/schedules/${schedule.id}/run`, alice.token)).json()
      const job = await waitForExport(alice.token, run.job_id)
      expect(job).toMatchObject({ status: 'completed', filters: { row_filters: normalised } })
      counts.push(job.row_count!)
    }
    const preview = await (await postJson('/api/analytics/exports/preview', { dataset_id: TRANSACTIONS, format: 'csv', row_filters: normalised }, { token: alice.token })).json()
    expect(counts).toEqual([preview.row_count, preview.row_count])
    expect(preview.row_count).toBeGreaterThan(0)

    const db = new pg.Client({ connectionString: env.DATABASE_URL })
    await db.connect()
    try {
      // As a manifest that dropped the column would leave the saved request.
      await db.query(`UPDATE schedules SET request = jsonb_set(request, '{row_filters,0,column}', '"old_amount"') WHERE id = $1`, [schedule.id])
    } finally {
      await db.end()
    }
    for (let i = 1; i <= 5; i++) {
      const { job_id: jobId, status } = await (await send('POST', `/api/analytics/schedules/${schedule.id}/run`, alice.token)).json()
      expect(status).toBe('failed')
      const job = await (await api(`/api/analytics/exports/${jobId}`, { token: alice.token })).json()
      expect(job.error).toMatchObject({ code: 'FILTER_COLUMN_GONE', message: expect.stringContaining('old_amount') })
    }
    expect(await (await api(`/api/analytics/schedules/${schedule.id}`, { token: alice.token })).json()).toMatchObject({ enabled: false, consecutive_failures: 5 })
    await send('DELETE', `/api/analytics/schedules/${schedule.id}`, alice.token)
  })

  it('400s name the field: cadence, time zone, fast cron, range against the dataset, dates, another user\'s accounts', async () => {
    const fields = async (body: unknown) => {
      const res = await postJson('/api/analytics/schedules', body, { token: bob.token })
      expect(res.status).toBe(400)
      return ((await res.json()).data.errors as Array<{ field: string }>).map(e => e.field)
    }
    expect(await fields({ ...SCHEDULE, cadence: { frequency: 'weekly', time: '08:00', time_zone: 'UTC' } })).toEqual(['cadence.weekday'])
    expect(await fields({ ...SCHEDULE, cadence: { frequency: 'daily', time: '08:00', time_zone: 'Europe/Atlantis' } })).toEqual(['cadence.time_zone'])
    expect(await fields({ ...SCHEDULE, cadence: { cron: '*/2 * * * *', time_zone: 'UTC' } })).toEqual(['cadence.cron'])
    expect(await fields({ ...SCHEDULE, dataset_id: MONTHLY, range: { last_n_days: 10 } })).toEqual(['range'])
    expect(await fields({ ...SCHEDULE, range: { last_n_days: 0 } })).toEqual(['range.last_n_days'])
    expect(await fields({ ...SCHEDULE, start_date: '2026-01-01' })).toEqual(['start_date'])
    expect(await fields({ ...SCHEDULE, account_ids: alice.account_ids.slice(0, 1) })).toEqual(['account_ids'])
  })
})

/**
 * A schedule that came due while the server was down is run once at start-up (Nitro's cron does
 * not fire under NODE_ENV=test: this is the start-up pass), for its latest missed slot.
 */
describe('a due schedule at start-up', () => {
  let scheduleId = ''
  const suite = useServerSuite({
    name: 'schedules-startup',
    users: 1,
    transactions: 500,
    seed: 5,
    prepare: async (s) => {
      const db = new pg.Client({ connectionString: s.environment.env.DATABASE_URL })
      await db.connect()
      try {
        const { rows } = await db.query(`INSERT INTO schedules (user_id, name, request, range, cadence, next_run_at, updated_at)
          VALUES ($1, 'Daily', $2, '"previous_day"', '{"frequency":"daily","time":"06:00","time_zone":"UTC"}',
            date_trunc('day', now()) - interval '3 days' + interval '6 hours', now()) RETURNING id`,
        [s.demo.users[0]!.user_id, JSON.stringify({ dataset_id: TRANSACTIONS, format: 'csv' })])
        scheduleId = rows[0].id
      } finally {
        await db.end()
      }
    }
  })

  it('runs once for the latest missed slot, says how many it skipped, and moves next_run_at to the future', async () => {
    const { api, waitForExport } = client(suite.url)
    const token = suite.demo.users[0]!.token
    let runs: Array<{ job_id: string, schedule_run: { missed_slots: number, trigger: string } }> = []
    for (let i = 0; i < 100 && !runs.length; i++) {
      runs = (await (await api(`/api/analytics/exports?schedule_id=${scheduleId}`, { token })).json()).exports
      if (!runs.length) await new Promise(r => setTimeout(r, 100))
    }
    expect(runs).toHaveLength(1)
    expect(runs[0]!.schedule_run.trigger).toBe('cadence')
    // Three days ago at 06:00 up to the latest 06:00: two or three earlier slots, depending on the hour now.
    expect(runs[0]!.schedule_run.missed_slots).toBeGreaterThanOrEqual(2)
    expect((await waitForExport(token, runs[0]!.job_id)).status).toBe('completed')
    const schedule = await (await api(`/api/analytics/schedules/${scheduleId}`, { token })).json() as ScheduleDTO
    expect(Date.parse(schedule.next_run_at!)).toBeGreaterThan(Date.now())
    expect(schedule.last_run?.job_id).toBe(runs[0]!.job_id)
  })
})
