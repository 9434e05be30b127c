import { logFn } from '../lib/log'
import { createTelegramService, type TelegramService } from '../lib/telegram/service'

let service: Promise<TelegramService | null> | undefined
let created: TelegramService | null = null

/** This process's Telegram service, or null when Telegram is off (no TELEGRAM_BOT_TOKEN). */
export function useTelegram(): Promise<TelegramService | null> {
  service ??= useAppContext().then((context) => {
    created = createTelegramService(context, {
      log: logFn(useLog().child({ component: 'telegram' })),
      // A chat linked with a code: perhaps one a leaked token asked for, so the user's other channels hear of it.
      onLinked: userId => void useNotifications()
        .then(notifications => notifications.accountChanged(userId, { what: 'A Telegram chat was linked to your account', about: ['telegram'] }))
        .catch((error: Error) => useLog().warn({ component: 'telegram', user_id: userId }, `could not announce a linked chat: ${error.message}`))
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
