import type { Update } from 'telegraf/types'

/**
 * Telegram's updates (TELEGRAM_MODE=webhook). Authenticated by the secret Telegram echoes in
 * X-Telegram-Bot-Api-Secret-Token; once authenticated the answer is always 200, since any other
 * status makes Telegram redeliver the same update again and again.
 */
export default defineEventHandler(async (event) => {
  const telegram = await useTelegram()
  if (!telegram) throw createError({ statusCode: 404, message: 'Telegram is not enabled on this server' })
  const secret = getHeader(event, 'x-telegram-bot-api-secret-token')
  if (!secret) throw createError({ statusCode: 401, message: 'Missing X-Telegram-Bot-Api-Secret-Token' })
  if (!telegram.webhookSecretMatches(secret)) throw createError({ statusCode: 403, message: 'Wrong X-Telegram-Bot-Api-Secret-Token' })

  const update = await readBody<Update>(event).catch(() => null)
  if (update && typeof update === 'object' && Number.isInteger(update.update_id)) {
    await telegram.handleUpdate(update)
  } else {
    useRequestLog(event).warn({ component: 'telegram' }, 'webhook body is not an update; ignored')
  }
  return { ok: true }
})
