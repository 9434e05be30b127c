import { logFn } from '../lib/log'
import { createTelegramService, type TelegramService } from '../lib/telegram/service'

let service: Promise<TelegramService | null> | undefined
let created: TelegramService | null = null

/** This process's Telegram service, or null when Telegram is off (no TELEGRAM_BOT_TOKEN). */
export function useTelegram(): Promise<TelegramService | null> {
  service ??= useAppContext().then((context) => {
    created = createTelegramService(context, { log: logFn(useLog().child({ component: 'telegram' })) })
    return created
  }).catch((error) => {
    service = undefined
    throw error
  })
  return service
}

/**
 * Starts what this process's role needs: the API side (role all or web) receives updates, by long
 * polling or by registering the webhook. (Messages go out through the notification pipeline.)
 */
export async function startTelegram(): Promise<void> {
  const telegram = await useTelegram()
  if (!telegram) return
  const { config } = telegram
  if (config.OUTPORT_ROLE === 'worker') return
  if (config.TELEGRAM_MODE === 'polling') telegram.startPolling()
  else await telegram.registerWebhook()
}

export async function stopTelegram(): Promise<void> {
  await created?.close()
}
