import { createTransport } from 'nodemailer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, type Db } from '#server/lib/db/client'
import type { JobStatus } from '#shared/types/jobs'
import type { SchedulePausedData } from '#shared/types/notifications'
import { loadConfig } from '#server/lib/config'
import { claimChannelNotification, unclaimedJobIds } from '#server/lib/exports/jobs/housekeeping'
import { NotificationPipeline } from '#server/lib/notifications/pipeline'
import { jobWants } from '#server/lib/notifications/settings'
import { toSchedule } from '#server/lib/schedules/store'
import { createTestDatabase, type TestDatabase } from '../../helpers/database'

/** The once-per-job-and-channel claim, and the dispatcher's fan-out to webhooks. */
describe('notification claims', () => {
  let database: TestDatabase
  let db: Db
  let userId: string

  const job = (status: 'completed' | 'failed' | 'pending', completedAt: Date | null = new Date()) => db.job.create({
    data: { userId, type: 'EXPORT', status, completedAt, metadata: { dataset_id: 'x', dataset_name: 'fct_<x>', format: 'csv', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }, row_count: 3, file_size_bytes: 10, checksum_sha256: 'ab', s3_key: 'k' } }
  })

  beforeAll(async () => {
    database = await createTestDatabase()
    db = createDb(database.url, { max: 10 })
    userId = (await db.user.create({ data: { email: 'c@example.com', passwordHash: 'x', displayName: 'C' } })).id
  })
  afterAll(async () => {
    await db?.$disconnect()
    await database?.drop()
  })

  it('eight racing claims per channel: one winner each; channels are independent; pending jobs are not claimed', async () => {
    const { id } = await job('completed')
    const emails = await Promise.all(Array.from({ length: 8 }, () => claimChannelNotification(db, id, 'email')))
    expect(emails.filter(Boolean)).toHaveLength(1)
    expect(emails.find(Boolean)!.id).toBe(id)
    expect(await claimChannelNotification(db, id, 'webhook')).not.toBeNull()
    expect(await claimChannelNotification(db, id, 'webhook')).toBeNull()
    const pending = await job('pending', null)
    expect(await claimChannelNotification(db, pending.id, 'email')).toBeNull()
    expect(await claimChannelNotification(db, 'not-a-uuid', 'email')).toBeNull()
    // A claim is its channel's alone.
    expect(await db.jobNotification.findUnique({ where: { jobId_channel: { jobId: id, channel: 'telegram' } } })).toBeNull()
  })

  it('unclaimedJobIds lists recent final jobs not yet claimed on that channel', async () => {
    await db.job.deleteMany()
    const a = await job('completed')
    const b = await job('failed')
    await job('completed', new Date(Date.now() - 3 * 3600_000))
    await claimChannelNotification(db, a.id, 'webhook')
    expect(await unclaimedJobIds(db, 'webhook', new Date(Date.now() - 3600_000), 10)).toEqual([b.id])
    expect((await unclaimedJobIds(db, 'email', new Date(Date.now() - 3600_000), 10)).sort()).toEqual([a.id, b.id].sort())
  })

  it('the dispatcher queues one export.completed per subscribed, enabled endpoint, with the signed link and no presigned URL', async () => {
    await db.job.deleteMany()
    const config = loadConfig({ DATABASE_URL: database.url, S3_EXPORTS_BUCKET: 'b-test', APP_URL: 'https://outport.example', NUXT_SESSION_PASSWORD: 'x'.repeat(40) })
    const dispatcher = new NotificationPipeline({ config, db, log: () => {} })
    const sub = await db.webhookEndpoint.create({ data: { userId, url: 'https://example.com/a', secret: 'whsec_x', events: ['export.completed'] } })
    await db.webhookEndpoint.create({ data: { userId, url: 'https://example.com/b', secret: 'whsec_x', events: ['export.failed'] } })
    await db.webhookEndpoint.create({ data: { userId, url: 'https://example.com/c', secret: 'whsec_x', events: ['export.completed'], enabled: false } })
    const { id } = await job('completed')
    dispatcher.jobFinished(id)
    dispatcher.jobFinished(id)
    await dispatcher.close()
    const deliveries = await db.webhookDelivery.findMany()
    expect(deliveries).toHaveLength(1)
    expect(deliveries[0]).toMatchObject({ endpointId: sub.id, eventType: 'export.completed', status: 'pending' })
    const payload = deliveries[0]!.payload as { type: string, data: Record<string, unknown> }
    expect(payload.type).toBe('export.completed')
    expect(payload.data).toMatchObject({ job_id: id, status: 'completed', dataset_name: 'fct_<x>', row_count: 3, download_link: expect.stringMatching(new RegExp(`^https://outport.example/exports/${id}/download\\?token=`)) })
    expect(payload.data).not.toHaveProperty('download_url')

    const paused = { id: 's1', name: 'Nightly', failures: 5 } as unknown as SchedulePausedData
    expect(await dispatcher.webhooks.send({ type: 'schedule.paused', userId, paused })).toBe('not-wanted')
    await db.webhookEndpoint.update({ where: { id: sub.id }, data: { events: ['schedule.paused'] } })
    expect(await dispatcher.webhooks.send({ type: 'schedule.paused', userId, paused })).toBe('queued')
    expect(await db.webhookDelivery.count({ where: { eventType: 'schedule.paused' } })).toBe(1)
  })

  it('a scheduled run: the schedule\'s channels decide where it names one, the user\'s settings elsewhere', async () => {
    await db.notificationSettings.upsert({ where: { userId }, create: { userId, emailCompleted: false }, update: { emailCompleted: false } })
    const schedule = (channels: object | null) => db.schedule.create({
      data: { userId, request: {}, range: 'previous_day', cadence: { frequency: 'daily', time: '08:00', time_zone: 'UTC' }, ...(channels && { channels }) }
    })
    const run = async (channels: object | null, status: 'completed' | 'failed' = 'completed') => {
      const { id } = await schedule(channels)
      const row = await job(status)
      return { userId, status: row.status as JobStatus, scheduleId: id }
    }
    const wanted = async (j: { userId: string, status: JobStatus, scheduleId: string | null }) => ({
      telegram: await jobWants(db, j, 'telegram'), email: await jobWants(db, j, 'email'), webhooks: await jobWants(db, j, 'webhooks')
    })
    // No choice: the settings (email off for completed exports).
    expect(await wanted(await run(null))).toEqual({ telegram: true, email: false, webhooks: true })
    expect(await wanted({ userId, status: 'completed', scheduleId: null })).toEqual({ telegram: true, email: false, webhooks: true })
    // The schedule's choice wins where it has one, for either outcome.
    expect(await wanted(await run({ email: true, telegram: false }))).toEqual({ telegram: false, email: true, webhooks: true })
    expect(await wanted(await run({ webhooks: false }, 'failed'))).toEqual({ telegram: true, email: true, webhooks: false })
    // Jobs still running are announced on no channel.
    expect(await wanted({ userId, status: 'running', scheduleId: null })).toEqual({ telegram: false, email: false, webhooks: false })
    await db.notificationSettings.delete({ where: { userId } })
  })

  it('a paused schedule reaches every channel the user has (email too) as the user\'s schedule-paused choice says, unless the schedule chose otherwise', async () => {
    const config = loadConfig({ DATABASE_URL: database.url, S3_EXPORTS_BUCKET: 'b-test', APP_URL: 'https://outport.example', NUXT_SESSION_PASSWORD: 'x'.repeat(40), EMAIL_FROM: 'Outport <o@example.com>' })
    // nodemailer's JSON transport: a real transport that keeps the message instead of sending it.
    const mailer = createTransport({ jsonTransport: true })
    const sent: string[] = []
    const send = mailer.sendMail.bind(mailer)
    mailer.sendMail = (async (message: { subject: string }) => {
      sent.push(message.subject)
      return send(message)
    }) as typeof mailer.sendMail
    // Each pause is sent in the background: a pipeline of its own, closed (its sends awaited) before
    // the settings change under the next one.
    const paused = async (channels: object | null) => {
      const pipeline = new NotificationPipeline({ config, db, log: () => {}, mailer })
      const row = await db.schedule.create({
        data: { userId, name: 'Nightly', enabled: false, request: { dataset_id: 'x', format: 'csv' }, range: 'previous_day', cadence: { frequency: 'daily', time: '08:00', time_zone: 'UTC' }, ...(channels && { channels }) }
      })
      pipeline.schedulePaused({ schedule: toSchedule(row), failures: 3 }, 'Accounts gone.')
      await pipeline.close()
    }
    await paused(null)
    await paused({ email: false })
    await paused({ email: true })
    // The user's "schedule paused" choice decides, not the one for failed exports.
    await db.notificationSettings.create({ data: { userId, emailFailed: false } })
    await paused(null)
    await db.notificationSettings.update({ where: { userId }, data: { emailFailed: true, emailSchedulePaused: false } })
    await paused(null)
    await paused({ email: true })
    expect(sent).toEqual(Array(4).fill('Schedule paused: “Nightly”'))
    await db.notificationSettings.delete({ where: { userId } })
  })
})
