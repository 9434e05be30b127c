/**
 * Creates the runs of due schedules. Scheduled every minute (nuxt.config.ts) and run once at
 * start-up (server/plugins/lifecycle.ts); any number of processes may run it at once (see
 * server/lib/schedules/scheduler.ts).
 */
export default defineTask({
  meta: { name: 'schedules:run', description: 'Create the export jobs of due schedules' },
  async run() {
    return { result: await runSchedulerPass() }
  }
})
