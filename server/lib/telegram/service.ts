import { createHash, timingSafeEqual } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Telegraf } from 'telegraf'
import type { Update, UserFromGetMe } from 'telegraf/types'
import type { Config } from '../config'
import type { Db } from '../db/client'
import type { LogFn } from '../log'
import { appLink } from '../links'
import { createBot, withTimeout } from './bot'

export interface TelegramServiceOptions {
  log?: LogFn
  /** Told when a chat was linked to a user (the user's other channels hear of it). */
  onLinked?: (userId: string) => void
}

export const WEBHOOK_PATH = 'api/telegram/webhook'

/**
 * Telegram for one process: the bot (fed by the webhook route or by long polling) that links chats.
 * Messages about exports are sent by the notification pipeline's Telegram channel
 * (server/lib/notifications/channels/telegram.ts) through this bot's API client. Null when
 * TELEGRAM_BOT_TOKEN is unset: Telegram is then simply off.
 */
export function createTelegramService(ctx: { config: Config, db: Db }, options: TelegramServiceOptions = {}): TelegramService | null {
  if (!ctx.config.TELEGRAM_BOT_TOKEN) return null
  return new TelegramService(ctx.config, ctx.db, options)
}

export class TelegramService {
  readonly bot: Telegraf
  private readonly log: LogFn
  private identity?: Promise<UserFromGetMe>
  private readonly stopping = new AbortController()
  private polling?: Promise<void>

  constructor(readonly config: Config, readonly db: Db, options: TelegramServiceOptions = {}) {
    this.log = options.log ?? (() => {})
    this.bot = createBot({ token: config.TELEGRAM_BOT_TOKEN!, apiRoot: config.TELEGRAM_API_ROOT, db, log: this.log, onLinked: options.onLinked })
  }

  /**
   * getMe, once it succeeded. telegraf would cache a failed getMe for good (every later update
   * failing with it), so we fetch it ourselves and try again after a failure.
   */
  me(): Promise<UserFromGetMe> {
    this.identity ??= this.bot.telegram.callApi('getMe', {}, withTimeout(10_000)).then((me) => {
      this.bot.botInfo = me
      return me
    }, (error: unknown) => {
      this.identity = undefined
      throw error
    })
    return this.identity
  }

  async username(): Promise<string> {
    return (await this.me()).username
  }

  /** Handles one update; never throws (a failure is logged: Telegram would only redeliver it). */
  async handleUpdate(update: Update): Promise<void> {
    try {
      await this.me()
      await this.bot.handleUpdate(update)
    } catch (error) {
      this.log(`Telegram update ${update.update_id} not handled: ${(error as Error).message}`)
    }
  }

  /** Compares the header Telegram sends with TELEGRAM_WEBHOOK_SECRET in constant time. */
  webhookSecretMatches(given: string): boolean {
    const secret = this.config.TELEGRAM_WEBHOOK_SECRET
    if (!secret) return false
    const digest = (s: string) => createHash('sha256').update(s).digest()
    return timingSafeEqual(digest(given), digest(secret))
  }

  /** Points Telegram at APP_URL's webhook route with the secret; failures are logged. */
  async registerWebhook(): Promise<void> {
    const url = appLink(this.config.APP_URL, WEBHOOK_PATH)
    try {
      await this.bot.telegram.callApi('setWebhook', { url, secret_token: this.config.TELEGRAM_WEBHOOK_SECRET, allowed_updates: ['message'] }, withTimeout(10_000))
      this.log(`Telegram webhook set to ${url}`, { level: 'info' })
    } catch (error) {
      this.log(`Telegram webhook not set to ${url} (${(error as Error).message}); without a public HTTPS APP_URL use TELEGRAM_MODE=polling`)
    }
  }

  /** Long polling (TELEGRAM_MODE=polling): asks Telegram for updates until close(). */
  startPolling(): void {
    this.polling ??= this.poll(this.stopping.signal)
  }

  private async poll(signal: AbortSignal): Promise<void> {
    let offset = 0
    let webhookDeleted = false
    while (!signal.aborted) {
      try {
        // Telegram refuses getUpdates while a webhook is set.
        if (!webhookDeleted) {
          await this.bot.telegram.callApi('deleteWebhook', {}, withTimeout(10_000))
          webhookDeleted = true
        }
        const updates = await this.bot.telegram.callApi('getUpdates', { offset, timeout: 30, allowed_updates: ['message'] }, withTimeout(45_000, signal))
        for (const update of updates) {
          // Acknowledged before handling: an update that fails is not fetched again forever.
          offset = update.update_id + 1
          await this.handleUpdate(update)
        }
      } catch (error) {
        if (signal.aborted) return
        const retryAfter = (error as { parameters?: { retry_after?: number } }).parameters?.retry_after ?? 5
        this.log(`Telegram polling failed (${(error as Error).message}); retrying in ${retryAfter} s`)
        await sleep(retryAfter * 1000, undefined, { signal }).catch(() => {})
      }
    }
  }

  async close(): Promise<void> {
    this.stopping.abort()
    await this.polling
  }
}
