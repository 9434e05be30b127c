import { expireNotificationRecords } from '#server/lib/notifications/retention'

/**
 * Deletes webhook deliveries past WEBHOOK_DELIVERY_RETENTION_DAYS and old job_notifications
 * claims, and blanks expired download links in stored webhook payloads. Hourly, like the audit
 * trail's; concurrent runs in several processes are harmless.
 */
export default defineTask({
  meta: { name: 'notifications:retention', description: 'Delete old webhook deliveries and notification claims; blank expired download links' },
  async run() {
    const { db, config } = await useAppContext()
    const result = await expireNotificationRecords(db, {
      deliveryRetentionDays: config.WEBHOOK_DELIVERY_RETENTION_DAYS,
      exportRetentionHours: config.EXPORT_RETENTION_HOURS
    })
    return { result }
  }
})
