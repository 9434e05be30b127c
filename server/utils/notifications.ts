import { logFn } from '../lib/log'
import { NotificationPipeline } from '../lib/notifications/pipeline'

let pipeline: Promise<NotificationPipeline> | undefined
let created: NotificationPipeline | undefined
let sweepTimer: NodeJS.Timeout | undefined
let sweeping: Promise<unknown> | undefined
const stopping = new AbortController()

/** This process's notification pipeline (every channel this server has on). */
export function useNotifications(): Promise<NotificationPipeline> {
  pipeline ??= (async () => {
    const context = await useAppContext()
    // Telegram's channel sends through the bot's API client, when Telegram is on.
    const telegram = await useTelegram().catch(() => null)
    created = new NotificationPipeline({
      config: context.config,
      db: context.db,
      telegram: telegram?.bot.telegram,
      log: logFn(useLog().child({ component: 'notify' })),
      metrics: useMetrics().notification
    })
    return created
  })().catch((error) => {
    pipeline = undefined
    throw error
  })
  return pipeline
}

/** The worker side (roles all and worker): the webhook delivery loop, and the sweep for unannounced jobs at start-up and every minute. */
export async function startNotifications(): Promise<void> {
  const notifications = await useNotifications()
  const { config } = await useAppContext()
  if (config.OUTPORT_ROLE === 'web') return
  notifications.start()
  const sweep = () => {
    // Never two at once: a slow channel can make one pass outlast the interval.
    sweeping ??= notifications.sweep(3600_000, stopping.signal)
      .catch((error: Error) => console.warn(`[outport:notify] sweep failed: ${error.message}`))
      .finally(() => {
        sweeping = undefined
      })
  }
  sweepTimer = setInterval(sweep, 60_000)
  sweepTimer.unref()
  sweep()
}

export async function stopNotifications(): Promise<void> {
  clearInterval(sweepTimer)
  stopping.abort()
  await created?.close()
  await sweeping
}
