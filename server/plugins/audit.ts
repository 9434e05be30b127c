import { onAuditWriteFailed } from '../lib/audit'

/**
 * Counts failed audit writes in outport_audit_write_failures_total. Registered at start-up rather
 * than where the metrics are created (on first use), so a failure before the first scrape or the
 * first finished request is counted too, whoever wrote: a request or the Telegram bot.
 */
export default defineNitroPlugin(() => {
  onAuditWriteFailed((_error, event) => useMetrics().auditWriteFailed(event.action))
})
