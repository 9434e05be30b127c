import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { DatasetCoverageDTO } from '#shared/types/datasets'
import type { OnboardingDTO } from '#shared/types/onboarding'
import { createDb } from '#server/lib/db/client'
import { createUser } from '#server/lib/users'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { client } from '../helpers/http'

const baseUrl = inject('baseUrl')
const env = inject('env')
const { api, postJson } = client(baseUrl)
const [TRANSACTIONS, , MONTHLY] = DATASETS.map(d => d.id) as [string, string, string]
const cadence = { frequency: 'daily', time: '08:00', time_zone: 'Europe/London' }

/** The "Get started" steps and the datasets page's per-dataset usage, for users made here (no warehouse rows). */
describe('onboarding and dataset usage', () => {
  const db = createDb(env.DATABASE_URL!, { max: 1 })
  const users: Record<'carol' | 'dave', { id: string, cookie: string }> = {} as never
  // A cookie request as the app sends it (same-origin, so CSRF lets it through).
  const session = (who: keyof typeof users) => ({ cookie: users[who].cookie, headers: { 'sec-fetch-site': 'same-origin' } })
  const steps = async (who: keyof typeof users) => {
    const res = await api('/api/onboarding', session(who))
    expect(res.status).toBe(200)
    const body: OnboardingDTO = await res.json()
    return { dismissed: body.dismissed, done: Object.fromEntries(body.steps.map(s => [s.id, s.done])) }
  }

  beforeAll(async () => {
    for (const name of ['carol', 'dave'] as const) {
      const email = `${name}-${randomUUID()}@example.com`
      const user = await createUser(db, { email, password: `${name}-password` })
      const res = await postJson('/api/auth/login', { email, password: `${name}-password` })
      expect(res.status).toBe(200)
      users[name] = { id: user.id, cookie: res.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))!.split(';')[0]! }
    }
  })
  afterAll(async () => {
    await db.$disconnect()
  })

  it('GET /api/onboarding: each step ticks itself off from the user\'s own rows, in order, for that user only', async () => {
    expect((await api('/api/onboarding')).status).toBe(401)
    const first = await (await api('/api/onboarding', session('carol'))).json()
    expect(first).toEqual({ dismissed: false, steps: ['export', 'notifications', 'schedule', 'token'].map(id => ({ id, done: false })) })

    const created = await postJson('/api/tokens', { name: 'onboarding' }, session('carol'))
    expect(created.status).toBe(201)
    const { token } = await created.json()
    expect((await steps('carol')).done).toEqual({ export: false, notifications: false, schedule: false, token: true })
    // The same answer with the token (scope exports:read).
    expect((await (await api('/api/onboarding', { token })).json()).steps[3]).toEqual({ id: 'token', done: true })

    expect((await postJson('/api/analytics/exports', { dataset_id: MONTHLY, format: 'csv' }, { token })).status).toBe(202)
    expect((await postJson('/api/analytics/schedules', { dataset_id: TRANSACTIONS, format: 'csv', range: 'all_dates', cadence }, { token })).status).toBe(201)
    // Linking Telegram stores the chat id on the user, as the bot's /start does.
    await db.user.update({ where: { id: users.carol.id }, data: { telegramChatId: 424242n } })
    expect(await steps('carol')).toEqual({ dismissed: false, done: { export: true, notifications: true, schedule: true, token: true } })
    expect(await steps('dave')).toEqual({ dismissed: false, done: { export: false, notifications: false, schedule: false, token: false } })
  })

  it('POST /api/onboarding/dismiss closes the card for the caller alone, for good', async () => {
    expect((await postJson('/api/onboarding/dismiss', {})).status).toBe(401)
    expect((await postJson('/api/onboarding/dismiss', {}, session('dave'))).status).toBe(204)
    const when = (await db.user.findUniqueOrThrow({ where: { id: users.dave.id } })).onboardingDismissedAt
    expect(when).toBeInstanceOf(Date)
    expect((await steps('dave')).dismissed).toBe(true)
    expect((await steps('carol')).dismissed).toBe(false)
    // Again: still closed, the first time kept.
    expect((await postJson('/api/onboarding/dismiss', {}, session('dave'))).status).toBe(204)
    expect((await db.user.findUniqueOrThrow({ where: { id: users.dave.id } })).onboardingDismissedAt).toEqual(when)
  })

  it('GET /api/analytics/datasets/coverage: no rows yet, the newest export of each dataset and its schedules, per user', async () => {
    const coverage = async (who: keyof typeof users) => {
      const res = await api('/api/analytics/datasets/coverage', session(who))
      expect(res.status).toBe(200)
      return (await res.json()).coverage as DatasetCoverageDTO[]
    }
    const dave = await coverage('dave')
    expect(dave.map(c => c.dataset_id)).toEqual(DATASETS.map(d => d.id))
    for (const c of dave) expect(c).toEqual({ dataset_id: c.dataset_id, start_date: null, end_date: null, row_count: 0, updated_at: null, last_export: null, schedule_count: 0 })

    const [transactions, daily, monthly] = await coverage('carol') as [DatasetCoverageDTO, DatasetCoverageDTO, DatasetCoverageDTO]
    expect(transactions).toMatchObject({ row_count: 0, last_export: null, schedule_count: 1 })
    expect(daily).toMatchObject({ last_export: null, schedule_count: 0 })
    expect(monthly.schedule_count).toBe(0)
    const { exports } = await (await api(`/api/analytics/exports?dataset_id=${MONTHLY}`, session('carol'))).json()
    expect(monthly.last_export).toMatchObject({ job_id: exports[0].job_id, format: 'csv', created_at: exports[0].created_at })
  })
})
