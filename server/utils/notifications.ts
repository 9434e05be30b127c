import { logFn } from '../lib/log'
import { NotificationDispatcher } from '../lib/notifications/dispatcher'

let dispatcher: Promise<NotificationDispatcher> | undefined
let created: NotificationDispatcher | undefined
let sweepTimer: NodeJS.Timeout | undefined

/** This process's notification dispatcher (email, webhooks, and Telegram when it is on). */
export function useNotifications(): Promise<NotificationDispatcher> {
  dispatcher ??= (async () => {
    const context = await useAppContext()
    const telegram = await useTelegram().catch(() => null)
    created = new NotificationDispatcher({
      config: context.config,
      db: context.db,
      telegram: telegram ? jobId => telegram.notifier.enqueue(jobId) : undefined,
      log: logFn(useLog().child({ component: 'notify' })),
      metrics: useMetrics().notification
    })
    return created
  })().catch((error) => {
    dispatcher = undefined
    throw error
  })
  return dispatcher
}

/** The worker side (roles all and worker): the webhook delivery loop and the sweep for unannounced jobs. */
export async function startNotifications(): Promise<void> {
  const notifications = await useNotifications()
  const { config } = await useAppContext()
  if (config.OUTPORT_ROLE === 'web') return
  notifications.startDelivering()
  const sweep = () => notifications.sweep().catch((error: Error) => console.warn(`[outport:notify] sweep failed: ${error.message}`))
  sweepTimer = setInterval(sweep, 60_000)
  sweepTimer.unref()
  void sweep()
}

export async function stopNotifications(): Promise<void> {
  clearInterval(sweepTimer)
  await created?.close()
}
