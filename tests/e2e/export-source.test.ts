import { describe, expect, inject, it } from 'vitest'
import { DATASETS } from '#server/lib/warehouse/datasets'
import type { ExportJobDTO } from '#shared/types/exports'
import { client } from '../helpers/http'

const baseUrl = inject('baseUrl')
const demo = inject('demo')
const [alice] = demo.users as [typeof demo.users[0]]
const { api, postJson, createExport, waitForExport } = client(baseUrl)
const MONTHLY = DATASETS[2]!.id

// A cookie request as the app sends it (same-origin, so CSRF lets it through).
const asSession = (cookie: string) => ({ cookie, headers: { 'sec-fetch-site': 'same-origin' } })

async function signIn(): Promise<string> {
  const res = await postJson('/api/auth/login', { email: alice.email, password: alice.password })
  expect(res.status).toBe(200)
  return res.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))!.split(';')[0]!
}

async function listIds(query: string): Promise<Array<Pick<ExportJobDTO, 'job_id' | 'source'>>> {
  const res = await api(`/api/analytics/exports?limit=100&${query}`, { token: alice.token })
  expect(res.status).toBe(200)
  return (await res.json()).exports.map((e: ExportJobDTO) => ({ job_id: e.job_id, source: e.source }))
}

describe('an export\'s source', () => {
  it('is manual from the app, api with a token, schedule for a schedule\'s run, and filters the history', async () => {
    const cookie = await signIn()
    const manual = await postJson('/api/analytics/exports', { dataset_id: MONTHLY, format: 'csv' }, asSession(cookie))
    expect(manual.status).toBe(202)
    const manualId = (await manual.json()).job_id as string
    const apiId = await createExport(alice.token, { dataset_id: MONTHLY, format: 'json' })
    const created = await postJson('/api/analytics/schedules', {
      dataset_id: MONTHLY, format: 'csv', range: 'previous_month', name: 'Source test',
      cadence: { frequency: 'weekly', weekday: 1, time: '08:00', time_zone: 'UTC' }
    }, { token: alice.token })
    const schedule = await created.json()
    expect(created.status, JSON.stringify(schedule)).toBe(201)
    const run = await api(`/api/analytics/schedules/${schedule.id}/run`, { method: 'POST', token: alice.token })
    expect(run.status).toBe(202)
    const scheduleId = (await run.json()).job_id as string

    expect((await waitForExport(alice.token, manualId)).source).toBe('manual')
    expect((await waitForExport(alice.token, apiId)).source).toBe('api')
    expect((await waitForExport(alice.token, scheduleId)).source).toBe('schedule')

    // Other tests export as alice too: each page holds only the sources asked for, ours among them.
    const apiOnly = await listIds(`source=api&created_after=${encodeURIComponent(new Date(Date.now() - 600_000).toISOString())}`)
    expect(apiOnly.every(e => e.source === 'api')).toBe(true)
    expect(apiOnly.map(e => e.job_id)).toContain(apiId)
    expect(apiOnly.map(e => e.job_id)).not.toContain(manualId)

    const notApi = await listIds('source=manual,schedule')
    expect(notApi.every(e => e.source !== 'api')).toBe(true)
    expect(notApi.map(e => e.job_id)).toEqual(expect.arrayContaining([manualId, scheduleId]))
    expect(await listIds(`source=schedule&schedule_id=${schedule.id}`)).toEqual([{ job_id: scheduleId, source: 'schedule' }])

    await api(`/api/analytics/schedules/${schedule.id}`, { method: 'DELETE', token: alice.token })
  })

  it('refuses an unknown source with a 400 naming the field', async () => {
    for (const value of ['robot', 'api,robot', '']) {
      const res = await api(`/api/analytics/exports?source=${value}`, { token: alice.token })
      expect(res.status).toBe(400)
      const body = await res.json()
      expect(body.data.errors).toEqual([expect.objectContaining({ field: 'source' })])
    }
  })
})
