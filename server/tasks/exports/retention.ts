import { expireExports } from '#server/lib/exports/retention'
import { logFn } from '#server/lib/log'

/**
 * Deletes export files older than EXPORT_RETENTION_HOURS and marks their jobs expired. Runs in
 * every process with the scheduler; concurrent runs are harmless (see expireExports).
 */
export default defineTask({
  meta: { name: 'exports:retention', description: 'Delete expired export files' },
  async run() {
    const { db, storage, config } = await useAppContext()
    const { expired, failed } = await expireExports(db, storage, {
      retentionHours: config.EXPORT_RETENTION_HOURS,
      log: logFn(useLog().child({ component: 'retention' }))
    })
    return { result: { expired: expired.length, failed: failed.length } }
  }
})
