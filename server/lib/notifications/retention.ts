import type { Db } from '#server/lib/db/client'
import { deleteClaimsBefore } from '#server/lib/exports/jobs/housekeeping'
import { retentionEnd } from '#server/lib/exports/retention'

export interface NotificationRetention {
  /** WEBHOOK_DELIVERY_RETENTION_DAYS */
  deliveryRetentionDays: number
  /** EXPORT_RETENTION_HOURS: how long an export's file, and so its download link, lives. */
  exportRetentionHours: number
  now?: Date
  batchSize?: number
}

/**
 * What the notification tables keep, so neither grows for ever nor holds a download link past its
 * file's life:
 * - webhook deliveries older than WEBHOOK_DELIVERY_RETENTION_DAYS are deleted, whatever their state;
 * - a stored export payload's `download_link` (a signed credential, resent by a retry or a
 *   redelivery) becomes null once it has expired: its `download_link_expires_at` is the file's
 *   retention end;
 * - job_notifications claims hold no link, only (job, channel); a claim is needed while the job could
 *   still be announced, i.e. within the sweep's hour-long lookback, so claims of jobs whose file
 *   retention (at least an hour) has ended are deleted.
 * Batched deletes, idempotent: runs in several processes at once only do the work once.
 */
export async function expireNotificationRecords(db: Db, opts: NotificationRetention): Promise<{ deliveries: number, links: number, claims: number }> {
  const now = opts.now ?? new Date()
  const batchSize = opts.batchSize ?? 5000
  const deliveryCutoff = new Date(now.getTime() - opts.deliveryRetentionDays * 86_400_000)
  const deliveries = await deleteInBatches(batchSize, () => db.$executeRaw`
    DELETE FROM webhook_deliveries WHERE id IN (
      SELECT id FROM webhook_deliveries WHERE created_at < ${deliveryCutoff} LIMIT ${batchSize}
    )`)
  const links = await db.$executeRaw`
    UPDATE webhook_deliveries d SET payload = jsonb_set(d.payload, '{data,download_link}', 'null')
    WHERE d.event_type = 'export.completed' AND jsonb_typeof(d.payload->'data'->'download_link') = 'string'
      AND (d.payload->'data'->>'download_link_expires_at')::timestamptz <= ${now}`
  const claimCutoff = retentionEnd(now, -opts.exportRetentionHours)
  const claims = await deleteInBatches(batchSize, () => deleteClaimsBefore(db, claimCutoff, batchSize))
  return { deliveries, links, claims }
}

async function deleteInBatches(batchSize: number, deleteBatch: () => Promise<number>): Promise<number> {
  let total = 0
  for (;;) {
    const deleted = await deleteBatch()
    total += deleted
    if (deleted < batchSize) return total
  }
}
