import { setTimeout as sleep } from 'node:timers/promises'
import { ConfigError } from '../lib/config'

const RETRY_START_MS = 5000

/**
 * The process's start-up and shutdown, in one place and in order.
 *
 * Start: the context (configuration, and in development the local services) → the export worker
 * (roles all and worker) → a first retention sweep (a server that was down for a day must not
 * wait for the next scheduled one) → a first scheduler pass (schedules that came due meanwhile) →
 * Telegram (updates for all and web, the notification sweep for all and worker) → notifications
 * (the webhook delivery loop and the email/webhook sweep, all and worker). The destination delivery
 * loop starts just before the worker and stops just after it (queued deliveries wait in PostgreSQL). Starting at boot rather
 * than on the first request surfaces configuration errors at
 * once; a database that is still booting is waited for.
 *
 * Shutdown (SIGTERM), in reverse: the worker stops claiming and finishes or hands back its jobs
 * (their notifications may still be sent) → email and webhook sends under way finish and the
 * delivery loop stops (queued deliveries wait in PostgreSQL) → Telegram delivers the messages under way → the
 * context closes the database.
 */
export default defineNitroPlugin((nitroApp) => {
  const shutdown = new AbortController()
  const started = start(shutdown.signal)
  // Nitro's graceful shutdown waits for every response to finish before the close hook runs, and
  // an event stream never finishes by itself: end them on the signal (clients resume elsewhere).
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stopExportEventHub())
  nitroApp.hooks.hook('close', async () => {
    shutdown.abort()
    await started
    const context = await useAppContext().catch(() => undefined)
    await stopExportEventHub()
    await useExportWorker()?.stop((context?.config.EXPORT_SHUTDOWN_GRACE_SECONDS ?? 20) * 1000)
    await stopDestinations()
    await stopNotifications()
    await stopTelegram()
    await context?.close()
  })
})

async function start(signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      // Before the worker, so a job it completes at once finds the delivery loop.
      await startDestinations()
      await startExportWorker()
      break
    } catch (error) {
      useLog().error(error instanceof Error ? error.message : String(error))
      if (error instanceof ConfigError) {
        // A misconfigured server cannot do its job: exit, so a supervisor notices, instead of
        // serving errors.
        if (!import.meta.dev) process.exit(1)
        return
      }
      await sleep(RETRY_START_MS, undefined, { signal }).catch(() => {})
    }
  }
  if (signal.aborted) return
  await runTask('exports:retention').catch((error) => {
    useLog().error({ component: 'retention' }, `retention: ${error instanceof Error ? error.message : error}`)
  })
  // Schedules due while the server was down run now (once each, for their latest missed slot),
  // not at the next minute's tick — and under NODE_ENV=test, where Nitro's cron does not fire.
  await runTask('schedules:run').catch((error) => {
    console.error(`[outport] schedules: ${error instanceof Error ? error.message : error}`)
  })
  await startTelegram().catch((error) => {
    useLog().error({ component: 'telegram' }, error instanceof Error ? error.message : String(error))
  })
  await startNotifications().catch((error) => {
    useLog().error({ component: 'notify' }, error instanceof Error ? error.message : String(error))
  })
}
