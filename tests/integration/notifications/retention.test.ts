import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, type Db } from '#server/lib/db/client'
import { claimChannelNotification } from '#server/lib/exports/jobs/housekeeping'
import { expireNotificationRecords } from '#server/lib/notifications/retention'
import { enqueueDelivery } from '#server/lib/notifications/webhooks/queue'
import { createTestDatabase, type TestDatabase } from '../../helpers/database'

const HOUR = 3600_000
const DAY = 24 * HOUR

/** WEBHOOK_DELIVERY_RETENTION_DAYS, expired download links in stored payloads, and old job_notifications claims. */
describe('notification retention', () => {
  let database: TestDatabase
  let db: Db
  let userId: string
  let endpointId: string

  const completedJob = (completedAt: Date) => db.job.create({
    data: { userId, type: 'EXPORT', status: 'completed', completedAt, metadata: { dataset_id: 'x', dataset_name: 'fct_x', format: 'csv', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] } } }
  })
  /** An export.completed payload as the webhook channel stores it, with its link and the link's expiry. */
  const completedDelivery = async (jobId: string, expiresAt: Date, createdAt = new Date()) => {
    const delivery = await enqueueDelivery(db, endpointId, 'export.completed', { job_id: jobId, download_link: `https://outport.example/d/${jobId}?t=secret`, download_link_expires_at: expiresAt.toISOString() }, createdAt)
    await db.webhookDelivery.update({ where: { id: delivery.id }, data: { createdAt, status: 'delivered' } })
    return delivery.id
  }
  const linkOf = async (id: string) => ((await db.webhookDelivery.findUniqueOrThrow({ where: { id } })).payload as { data: { download_link: string | null } }).data.download_link

  beforeAll(async () => {
    database = await createTestDatabase()
    db = createDb(database.url, { max: 4 })
    userId = (await db.user.create({ data: { email: 'n@example.com', passwordHash: 'x', displayName: 'N' } })).id
    endpointId = (await db.webhookEndpoint.create({ data: { userId, url: 'https://hooks.example/x', secret: 'whsec_x', events: ['export.completed'] } })).id
  })
  afterAll(async () => {
    await db?.$disconnect()
    await database?.drop()
  })

  it('deletes deliveries older than the retention, blanks links past their file\'s life, drops claims of jobs past retention', async () => {
    const now = new Date()
    const fresh = await completedJob(new Date(now.getTime() - HOUR))
    const stale = await completedJob(new Date(now.getTime() - 30 * HOUR))
    const old = await completedDelivery(fresh.id, new Date(now.getTime() + 23 * HOUR), new Date(now.getTime() - 31 * DAY))
    const live = await completedDelivery(fresh.id, new Date(now.getTime() + 23 * HOUR))
    const expired = await completedDelivery(stale.id, new Date(now.getTime() - 6 * HOUR))
    const ping = (await enqueueDelivery(db, endpointId, 'ping', { message: 'hi' })).id
    for (const id of [fresh.id, stale.id]) await claimChannelNotification(db, id, 'email')

    const result = await expireNotificationRecords(db, { deliveryRetentionDays: 30, exportRetentionHours: 24, now, batchSize: 1 })

    expect(result).toEqual({ deliveries: 1, links: 1, claims: 1 })
    expect(await db.webhookDelivery.findUnique({ where: { id: old } })).toBeNull()
    expect(await linkOf(live)).toMatch(/^https:/)
    expect(await linkOf(expired)).toBeNull()
    expect(await db.webhookDelivery.findUnique({ where: { id: ping } })).not.toBeNull()
    expect((await db.jobNotification.findMany()).map(n => n.jobId)).toEqual([fresh.id])
    // Again: nothing left to do.
    expect(await expireNotificationRecords(db, { deliveryRetentionDays: 30, exportRetentionHours: 24, now })).toEqual({ deliveries: 0, links: 0, claims: 0 })
  })
})
