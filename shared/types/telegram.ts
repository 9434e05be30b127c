import { z } from 'zod'

/** The Telegram routes' answers (server/api/telegram/**). */

export const TelegramStatusSchema = z.object({
  enabled: z.boolean().meta({ description: 'Whether this server has a Telegram bot (TELEGRAM_BOT_TOKEN)' }),
  linked: z.boolean().meta({ description: 'Whether the caller\'s chat is connected' }),
  bot_username: z.string().nullable()
})

export const TelegramLinkSchema = z.object({
  code: z.string().meta({ description: 'One-time code, valid 15 minutes' }),
  deep_link: z.url().meta({ description: 't.me link that sends /start <code> to the bot' }),
  bot_username: z.string(),
  expires_at: z.iso.datetime()
})

export const TelegramUnlinkedSchema = z.object({ linked: z.literal(false) })

/**
 * What Telegram posts to the webhook: an Update (https://core.telegram.org/bots/api#update). The
 * route reads it with telegraf, not with this schema; only `update_id` is required of it there.
 */
export const TelegramUpdateSchema = z.looseObject({ update_id: z.int() })
