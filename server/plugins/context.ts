import { ConfigError } from '../lib/config'

/**
 * Builds the process context and starts the export worker at start-up rather than on the first
 * request, so configuration errors surface at once (in development the demo sign-in is printed).
 * On shutdown (SIGTERM) the worker stops claiming and finishes or hands back its jobs, and Telegram
 * delivers the messages under way.
 */
export default defineNitroPlugin((nitroApp) => {
  startExportWorker().catch((error) => {
    console.error(`[outport] ${error instanceof Error ? error.message : error}`)
    // A misconfigured server cannot do its job: exit, so a supervisor notices, instead of serving
    // errors. (Other start-up failures, e.g. the database still booting, are retried per request.)
    if (error instanceof ConfigError && !import.meta.dev) process.exit(1)
  })
  nitroApp.hooks.hook('close', async () => {
    const context = await useAppContext().catch(() => undefined)
    await useExportWorker()?.stop((context?.config.EXPORT_SHUTDOWN_GRACE_SECONDS ?? 20) * 1000)
    // After the worker (its last jobs may still notify), before the database closes.
    await stopTelegram()
    await context?.close()
  })
})
