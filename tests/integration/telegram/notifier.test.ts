import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createDb, type Db } from '#server/lib/db/client'
import { downloadTokenKey, signedDownloadUrl } from '#server/lib/exports/download-token'
import { createBot } from '#server/lib/telegram/bot'
import { loadConfig } from '#server/lib/config'
import { NotificationPipeline, type PipelineOptions } from '#server/lib/notifications/pipeline'
import type { PausedSchedule } from '#server/lib/schedules/scheduler'
import type { ExportMetadata } from '#shared/types/exports'
import { createTestDatabase, type TestDatabase } from '../../helpers/database'
import { freePort } from '../../helpers/server'
import { startFakeTelegram, type FakeTelegram } from '../../helpers/fake-telegram'

const CHAT = 424242
const TRANSACTIONS = '054f17bf-1dbb-43ed-98c3-b4858093d7fc'
const SESSION_PASSWORD = 'unit-test-session-password-long-enough-0123456789'
const key = downloadTokenKey(SESSION_PASSWORD)

/** The notification pipeline's Telegram channel, over a fake Bot API. */
describe('Telegram notifier', () => {
  let database: TestDatabase
  let db: Db
  let fake: FakeTelegram
  let userId: string
  let accountId: string
  let tagId: string
  let logs: string[]

  const notifier = (overrides: Partial<PipelineOptions> = {}) => {
    const pipeline = new NotificationPipeline({
      config: loadConfig({ DATABASE_URL: database.url, S3_EXPORTS_BUCKET: 'b-test', APP_URL: 'https://outport.example', NUXT_SESSION_PASSWORD: SESSION_PASSWORD, EXPORT_RETENTION_HOURS: '24' }),
      db,
      telegram: createBot({ token: fake.token, apiRoot: fake.url, db, log: () => {} }).telegram,
      log: line => logs.push(line),
      ...overrides
    })
    return {
      notify: (jobId: string) => pipeline.announce('telegram', jobId),
      sweep: (lookbackMs: number) => pipeline.sweep(lookbackMs),
      enqueue: (jobId: string) => pipeline.jobFinished(jobId),
      notifySchedulePaused: (paused: PausedSchedule, lastError: string) => pipeline.schedulePaused(paused, lastError),
      close: () => pipeline.close()
    }
  }

  const telegramClaim = (jobId: string) => db.jobNotification.findUnique({ where: { jobId_channel: { jobId, channel: 'telegram' } } })

  const metadata = (extra: Partial<ExportMetadata> = {}): ExportMetadata => ({
    dataset_id: TRANSACTIONS,
    dataset_name: 'fct_transactions',
    format: 'csv',
    filters: { start_date: '2026-01-01', end_date: null, account_ids: [accountId], tag_ids: [tagId] },
    s3_key: 'exports/x.csv',
    row_count: 1234,
    file_size_bytes: 2048,
    ...extra
  })

  async function job(status: 'completed' | 'failed' | 'pending' | 'cancelled', extra: { completedAt?: Date, error?: object } = {}) {
    return db.job.create({
      data: {
        userId,
        type: 'EXPORT',
        status,
        metadata: metadata() as object,
        completedAt: status === 'pending' ? null : (extra.completedAt ?? new Date()),
        ...(extra.error && { error: extra.error })
      }
    })
  }

  beforeAll(async () => {
    database = await createTestDatabase()
    db = createDb(database.url, { max: 8 })
    fake = await startFakeTelegram()
    const user = await db.user.create({ data: { email: 'n@example.com', passwordHash: 'x', displayName: 'N' } })
    userId = user.id
    accountId = (await db.account.create({ data: { userId, name: 'Main <Current> & Co' } })).id
    tagId = (await db.tag.create({ data: { userId, name: 'Food & "Drink"' } })).id
  })
  afterAll(async () => {
    await fake?.close()
    await db?.$disconnect()
    await database?.drop()
  })
  beforeEach(async () => {
    fake.reset()
    logs = []
    await db.job.deleteMany()
    await db.user.update({ where: { id: userId }, data: { telegramChatId: BigInt(CHAT) } })
  })

  it('sends the completion message once, with the signed link valid until the retention ends', async () => {
    const completedAt = new Date('2026-11-22T09:30:00.000Z')
    const { id } = await job('completed', { completedAt })
    const outcomes: string[] = []
    const n = notifier({ metrics: (channel, outcome) => outcomes.push(`${channel}:${outcome}`) })
    expect(await n.notify(id)).toBe('sent')
    expect(await n.notify(id)).toBe('already-notified')
    // Every decision is counted for outport_notifications_total.
    expect(outcomes).toEqual(['telegram:sent', 'telegram:already-notified'])
    const expiresAt = new Date('2026-11-23T09:30:00.000Z')
    expect(fake.messages()).toEqual([{
      chat_id: CHAT,
      parse_mode: 'HTML',
      link_preview_options: { is_disabled: true },
      text: [
        '✅ <b>Export ready: Transactions</b>',
        'Format: CSV',
        'Dates: from 2026-01-01',
        'Accounts: Main &lt;Current&gt; &amp; Co',
        'Tags: Food &amp; &quot;Drink&quot;',
        'Rows: 1,234',
        'Size: 2 KB',
        '',
        `<a href="${signedDownloadUrl('https://outport.example', key, id, expiresAt)}">Download</a> (available until 2026-11-23 09:30 UTC)`
      ].join('\n')
    }])
    expect(await telegramClaim(id)).not.toBeNull()
  })

  it('sends the failure message with the reason and a link to the app', async () => {
    const { id } = await job('failed', { error: { code: 'STORAGE_UNAVAILABLE', message: 'The file storage service could not be reached.' } })
    expect(await notifier().notify(id)).toBe('sent')
    expect(fake.messages()[0]!.text).toBe([
      '❌ <b>Export failed: Transactions</b>',
      'Format: CSV',
      'Dates: from 2026-01-01',
      'Accounts: Main &lt;Current&gt; &amp; Co',
      'Tags: Food &amp; &quot;Drink&quot;',
      'Reason: The file storage service could not be reached.',
      '',
      `<a href="https://outport.example/analytics/datasets?export=${TRANSACTIONS}&amp;job=${id}">Open Outport</a> to try again.`
    ].join('\n'))
  })

  it('respects the user\'s settings: completed off sends nothing for completed jobs, failed still goes', async () => {
    await db.notificationSettings.upsert({ where: { userId }, create: { userId, telegramCompleted: false }, update: { telegramCompleted: false } })
    try {
      const done = await job('completed')
      const failed = await job('failed', { error: { code: 'X', message: 'Boom' } })
      expect(await notifier().notify(done.id)).toBe('not-wanted')
      expect(await notifier().notify(failed.id)).toBe('sent')
      expect(fake.messages().map(m => m.text.split('\n')[0])).toEqual(['❌ <b>Export failed: Transactions</b>'])
    } finally {
      await db.notificationSettings.deleteMany()
    }
  })

  it('five notifiers racing for one job send one message', async () => {
    const { id } = await job('completed')
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => notifier().notify(id)))
    expect(outcomes.filter(o => o === 'sent')).toHaveLength(1)
    expect(outcomes.filter(o => o === 'already-notified')).toHaveLength(4)
    expect(fake.messages()).toHaveLength(1)
  })

  it('claims but sends nothing for an unlinked user, and ignores jobs that are not final', async () => {
    await db.user.update({ where: { id: userId }, data: { telegramChatId: null } })
    const done = await job('completed')
    expect(await notifier().notify(done.id)).toBe('not-linked')
    expect(await telegramClaim(done.id)).not.toBeNull()
    await db.user.update({ where: { id: userId }, data: { telegramChatId: BigInt(CHAT) } })
    for (const status of ['pending', 'cancelled'] as const) {
      const other = await job(status)
      expect(await notifier().notify(other.id)).toBe('already-notified')
      expect(await telegramClaim(other.id)).toBeNull()
    }
    expect(await notifier().notify('not-a-uuid')).toBe('already-notified')
    expect(fake.requests).toEqual([])
  })

  it('waits out a 429 retry_after, then delivers', async () => {
    fake.fail('sendMessage', { status: 429, description: 'Too Many Requests: retry after 1', retryAfter: 1 })
    const { id } = await job('completed')
    expect(await notifier().notify(id)).toBe('sent')
    const sends = fake.requests.filter(r => r.method === 'sendMessage')
    expect(sends).toHaveLength(2)
    expect(sends[1]!.at - sends[0]!.at).toBeGreaterThanOrEqual(950)
  })

  it('gives up on a 429 that asks for too long a wait, or after its attempts', async () => {
    fake.fail('sendMessage', { status: 429, description: 'Too Many Requests: retry after 600', retryAfter: 600 })
    const first = await job('completed')
    const started = Date.now()
    expect(await notifier().notify(first.id)).toBe('failed')
    expect(Date.now() - started).toBeLessThan(2000)
    expect(fake.messages()).toHaveLength(1)

    fake.reset()
    fake.fail('sendMessage', { status: 429, description: 'Too Many Requests: retry after 0', retryAfter: 0 }, 5)
    const second = await job('completed')
    expect(await notifier().notify(second.id)).toBe('failed')
    expect(fake.messages()).toHaveLength(3)
    expect(logs.join('\n')).toMatch(/not delivered after 3 attempt/)
  })

  it('unlinks the chat when Telegram answers 403 (bot blocked)', async () => {
    fake.fail('sendMessage', { status: 403, description: 'Forbidden: bot was blocked by the user' })
    const { id } = await job('completed')
    expect(await notifier().notify(id)).toBe('unlinked')
    expect((await db.user.findUniqueOrThrow({ where: { id: userId } })).telegramChatId).toBeNull()
    expect(logs.join('\n')).toMatch(/blocked by the user.*unlinked/)
  })

  it('logs a 500 or an unreachable API and gives the message up; the user stays linked', async () => {
    fake.fail('sendMessage', { status: 500, description: 'Internal Server Error' })
    const a = await job('completed')
    expect(await notifier().notify(a.id)).toBe('failed')
    const deadPort = await freePort()
    const b = await job('completed')
    const offline = notifier({ telegram: createBot({ token: fake.token, apiRoot: `http://127.0.0.1:${deadPort}/`, db, log: () => {} }).telegram })
    expect(await offline.notify(b.id)).toBe('failed')
    expect(logs.join('\n')).toMatch(/500/)
    expect(logs.join('\n')).toMatch(/ECONNREFUSED/)
    expect((await db.user.findUniqueOrThrow({ where: { id: userId } })).telegramChatId).toBe(BigInt(CHAT))
  })

  it('the sweep announces recent final jobs nobody claimed, and nothing older than its look-back', async () => {
    const recent = await job('completed', { completedAt: new Date(Date.now() - 30 * 60_000) })
    const recentFailed = await job('failed', { completedAt: new Date(Date.now() - 10 * 60_000), error: { code: 'X', message: 'Broken.' } })
    const old = await job('completed', { completedAt: new Date(Date.now() - 2 * 3600_000) })
    const announced = await job('completed')
    await db.jobNotification.create({ data: { jobId: announced.id, channel: 'telegram' } })
    await job('pending')
    const n = notifier()
    expect(await n.sweep(3600_000)).toBe(2)
    expect(await n.sweep(3600_000)).toBe(0)
    expect(fake.messages()).toHaveLength(2)
    expect(fake.messages().map(m => m.text.split('\n')[0])).toEqual(['✅ <b>Export ready: Transactions</b>', '❌ <b>Export failed: Transactions</b>'])
    const notified = (await db.jobNotification.findMany({ where: { channel: 'telegram' }, select: { jobId: true } })).map(n => ({ id: n.jobId }))
    expect(new Set(notified.map(j => j.id))).toEqual(new Set([recent.id, recentFailed.id, announced.id]))
    expect(notified.map(j => j.id)).not.toContain(old.id)
  })

  it('a schedule\'s run names the schedule; a schedule that paused itself is announced with a link to the schedules', async () => {
    const row = await db.job.create({
      data: { userId, type: 'EXPORT', status: 'failed', completedAt: new Date(), error: { code: 'FILTERS_GONE', message: 'Accounts gone.' }, metadata: metadata({ schedule: { name: 'Weekly', trigger: 'cadence', missed_slots: 2 } }) as object }
    })
    expect(await notifier().notify(row.id)).toBe('sent')
    expect(fake.messages()[0]!.text).toContain('Schedule: “Weekly”\nCatch-up run: 2 earlier runs were skipped while the server was down')

    const schedule = { id: '00000000-0000-4000-8000-000000000001', userId, name: 'Weekly', enabled: false, request: { dataset_id: TRANSACTIONS, format: 'csv' as const }, range: 'previous_week' as const, cadence: { frequency: 'weekly' as const, weekday: 1, time: '08:00', time_zone: 'Europe/London' }, channels: null, nextRunAt: null, consecutiveFailures: 5, pausedReason: 'Paused after 5 failed runs in a row', createdAt: new Date(), updatedAt: new Date(), watermarkUs: null, missedSlots: 0 }
    const n = notifier()
    n.notifySchedulePaused({ schedule, failures: 5 }, 'Accounts gone.')
    await n.close()
    expect(fake.messages()[1]!.text).toBe([
      '⏸️ <b>Schedule paused: “Weekly”</b>',
      'Its last 5 runs failed, so it will not run again until you resume it.',
      'Last error: Accounts gone.',
      '',
      '<a href="https://outport.example/analytics/schedules">Open your schedules</a> to fix and resume it.'
    ].join('\n'))
  })

  it('enqueue() runs in the background and close() waits for it', async () => {
    fake.fail('sendMessage', { status: 429, description: 'Too Many Requests: retry after 1', retryAfter: 1 })
    const { id } = await job('completed')
    const n = notifier()
    n.enqueue(id)
    await n.close()
    expect(fake.messages()).toHaveLength(2)
  })
})
