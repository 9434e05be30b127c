import { logFn } from '../lib/log'
import { createTelegramService, type TelegramService } from '../lib/telegram/service'

let service: Promise<TelegramService | null> | undefined
let created: TelegramService | null = null

/** This process's Telegram service, or null when Telegram is off (no TELEGRAM_BOT_TOKEN). */
export function useTelegram(): Promise<TelegramService | null> {
  service ??= useAppContext().then((context) => {
    created = createTelegramService(context, {
      log: logFn(useLog().child({ component: 'telegram' })),
      metrics: useMetrics().notification
    })
    return created
  }).catch((error) => {
    service = undefined
    throw error
  })
  return service
}

/**
 * Starts what this process's role needs: the API side (role all or web) receives updates, by long
 * polling or by registering the webhook; the worker side (all or worker) sweeps for final jobs
 * nobody announced, at start-up and every minute.
 */
export async function startTelegram(): Promise<void> {
  const telegram = await useTelegram()
  if (!telegram) return
  const { config } = telegram
  if (config.OUTPORT_ROLE !== 'worker') {
    if (config.TELEGRAM_MODE === 'polling') telegram.startPolling()
    else await telegram.registerWebhook()
  }
  if (config.OUTPORT_ROLE !== 'web') telegram.startSweeping()
}

export async function stopTelegram(): Promise<void> {
  await created?.close()
}
