import { createHash, timingSafeEqual } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Telegraf } from 'telegraf'
import type { Update, UserFromGetMe } from 'telegraf/types'
import type { Config } from '../config'
import type { Db } from '../db/client'
import type { LogFn } from '../log'
import type { NotificationMetrics } from '../metrics'
import { downloadTokenKey } from '../exports/download-token'
import { createBot, withTimeout } from './bot'
import { TelegramNotifier } from './notifier'

export interface TelegramServiceOptions {
  log?: LogFn
  /** Counts notification outcomes for /metrics. */
  metrics?: NotificationMetrics
  /** How often final jobs nobody announced are looked for (the start-up sweep always runs). */
  sweepIntervalMs?: number
  /** How far back such jobs are still worth a message. */
  sweepLookbackMs?: number
}

export const WEBHOOK_PATH = 'api/telegram/webhook'

/**
 * Telegram for one process: the bot (fed by the webhook route or by long polling), the notifier,
 * and the periodic sweep. Null when TELEGRAM_BOT_TOKEN is unset: Telegram is then simply off.
 */
export function createTelegramService(ctx: { config: Config, db: Db }, options: TelegramServiceOptions = {}): TelegramService | null {
  if (!ctx.config.TELEGRAM_BOT_TOKEN) return null
  return new TelegramService(ctx.config, ctx.db, options)
}

export class TelegramService {
  readonly bot: Telegraf
  readonly notifier: TelegramNotifier
  private readonly log: LogFn
  private identity?: Promise<UserFromGetMe>
  private readonly stopping = new AbortController()
  private polling?: Promise<void>
  private sweepTimer?: NodeJS.Timeout
  private sweeping?: Promise<unknown>

  constructor(readonly config: Config, readonly db: Db, private readonly options: TelegramServiceOptions = {}) {
    this.log = options.log ?? (() => {})
    this.bot = createBot({ token: config.TELEGRAM_BOT_TOKEN!, apiRoot: config.TELEGRAM_API_ROOT, db, log: this.log })
    this.notifier = new TelegramNotifier({
      db,
      telegram: this.bot.telegram,
      appUrl: config.APP_URL,
      downloadKey: downloadTokenKey(config.NUXT_SESSION_PASSWORD!),
      retentionHours: config.EXPORT_RETENTION_HOURS,
      log: this.log,
      metrics: options.metrics
    })
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
    const url = new URL(WEBHOOK_PATH, this.config.APP_URL.endsWith('/') ? this.config.APP_URL : `${this.config.APP_URL}/`).toString()
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

  /** Sweeps now and then every `sweepIntervalMs`, never two at once. */
  startSweeping(): void {
    if (this.sweepTimer) return
    const run = () => {
      if (this.sweeping || this.stopping.signal.aborted) return
      this.sweeping = this.notifier.sweep(this.options.sweepLookbackMs).catch((error: Error) => {
        this.log(`Telegram sweep failed: ${error.message}`)
      }).finally(() => {
        this.sweeping = undefined
      })
    }
    this.sweepTimer = setInterval(run, this.options.sweepIntervalMs ?? 60_000)
    this.sweepTimer.unref()
    run()
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer)
    this.stopping.abort()
    await this.polling
    // Lets messages under way finish, then cuts 429 waits short, which also ends a sweep.
    await this.notifier.close()
    await this.sweeping
  }
}
