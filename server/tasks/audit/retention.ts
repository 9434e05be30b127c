import { expireAuditEvents } from '#server/lib/audit'

/**
 * Deletes audit events older than AUDIT_RETENTION_DAYS. Hourly is plenty for a limit counted in
 * days; concurrent runs in several processes only delete the same rows once.
 */
export default defineTask({
  meta: { name: 'audit:retention', description: 'Delete audit events past AUDIT_RETENTION_DAYS' },
  async run() {
    const { db, config } = await useAppContext()
    const deleted = await expireAuditEvents(db, config.AUDIT_RETENTION_DAYS)
    return { result: { deleted } }
  }
})
