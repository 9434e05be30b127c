import { sweepOrphans } from '#server/lib/exports/orphans'
import { logFn } from '#server/lib/log'

/**
 * Deletes objects under exports/ older than an hour that no live job owns (what a late upload left
 * after its job was cancelled or deleted). Runs hourly in every process with the scheduler;
 * concurrent runs are harmless (see sweepOrphans).
 */
export default defineTask({
  meta: { name: 'exports:orphans', description: 'Delete export objects no live job owns' },
  async run() {
    const { db, storage } = await useAppContext()
    const result = await sweepOrphans(db, storage, {
      log: logFn(useLog().child({ component: 'orphans' })),
      metrics: useMetrics().orphans
    })
    return { result }
  }
})
