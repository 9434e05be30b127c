import { setTimeout as sleep } from 'node:timers/promises'
import { TelegramError, type Telegram } from 'telegraf'
import { describeCadence } from '#shared/types/schedules'
import { recordAuditEvent } from '#server/lib/audit'
import type { Db } from '#server/lib/db/client'
import type { LogFn } from '#server/lib/log'
import { withTimeout } from '#server/lib/telegram/bot'
import { unlinkChat } from '#server/lib/telegram/linking'
import { accountChangedMessage, completedMessage, failedMessage, schedulePausedMessage, webhookDisabledMessage, type ExportSummary } from '#server/lib/telegram/messages'
import type { Channel, ChannelFactory, NotificationEvent, Outcome } from '../channel'
import { deliveryLines, type JobNews } from '../summary'

/**
 * Telegram messages to the user's linked chat (the bot and the linking live in server/lib/telegram/).
 * A 429 is waited out (up to `maxRetryAfterSeconds`, `maxAttempts` times); a 403 means the user
 * blocked the bot or is gone, so the chat is unlinked; anything else is logged and given up.
 */

export interface TelegramChannelOptions {
  db: Db
  telegram: Telegram
  log: LogFn
  maxAttempts?: number
  maxRetryAfterSeconds?: number
  requestTimeoutMs?: number
}

export class TelegramChannel implements Channel {
  readonly id = 'telegram'
  readonly events = ['export.completed', 'export.failed', 'schedule.paused', 'webhook.disabled', 'account.changed'] as const
  private readonly closing = new AbortController()
  private readonly opts: Required<TelegramChannelOptions>

  constructor(options: TelegramChannelOptions) {
    this.opts = { maxAttempts: 3, maxRetryAfterSeconds: 30, requestTimeoutMs: 10_000, ...options }
  }

  async send(event: NotificationEvent): Promise<Outcome> {
    const user = await this.opts.db.user.findUnique({ where: { id: event.userId }, select: { telegramChatId: true } })
    const chatId = user?.telegramChatId ?? null
    if (chatId === null) return 'not-linked'
    const about: { what: string, fields: Record<string, string> } = event.type === 'schedule.paused'
      ? { what: `schedule ${event.paused.id}`, fields: { schedule_id: event.paused.id, user_id: event.userId } }
      : event.type === 'webhook.disabled' || event.type === 'account.changed'
        ? { what: event.type === 'webhook.disabled' ? 'a disabled webhook' : 'an account change', fields: { user_id: event.userId } }
        : { what: `job ${event.news.job.id}`, fields: { job_id: event.news.job.id, user_id: event.userId } }
    return this.deliver(chatId, message(event), about)
  }

  /** Cuts 429 waits short: the process is stopping. */
  async close(): Promise<void> {
    this.closing.abort()
  }

  private async deliver(chatId: bigint, text: string, about: { what: string, fields: Record<string, string> }): Promise<Outcome> {
    const { telegram, maxAttempts, maxRetryAfterSeconds, requestTimeoutMs, log } = this.opts
    const { what, fields } = about
    for (let attempt = 1; ; attempt++) {
      try {
        await telegram.callApi('sendMessage', {
          // Telegram chat ids have at most 52 significant bits: exact as a number.
          chat_id: Number(chatId),
          text,
          parse_mode: 'HTML',
          link_preview_options: { is_disabled: true }
        }, withTimeout(requestTimeoutMs))
        return 'sent'
      } catch (error) {
        if (error instanceof TelegramError && error.code === 429) {
          const retryAfter = error.parameters?.retry_after ?? 1
          if (attempt < maxAttempts && retryAfter <= maxRetryAfterSeconds && !this.closing.signal.aborted) {
            const waited = await sleep(retryAfter * 1000, true, { signal: this.closing.signal }).catch(() => false)
            if (waited) continue
          }
        }
        if (error instanceof TelegramError && error.code === 403) {
          // Blocked, or the account is gone: nothing sent to this chat can arrive any more.
          for (const userId of await unlinkChat(this.opts.db, chatId)) {
            await recordAuditEvent(this.opts.db, { userId, action: 'telegram.unlinked', details: { via: 'bot_blocked', chat_id: String(chatId) } }, { log })
          }
          log(`Telegram refused the message for ${what} (${error.description}); chat unlinked`, fields)
          return 'unlinked'
        }
        log(`Telegram message for ${what} not delivered after ${attempt} attempt(s): ${(error as Error).message}`, fields)
        return 'failed'
      }
    }
  }
}

function summary(news: JobNews): ExportSummary {
  const { metadata } = news.job
  return {
    datasetTitle: news.datasetTitle,
    format: metadata.format,
    compression: metadata.compression ?? 'none',
    filters: metadata.filters,
    accountNames: news.accountNames,
    tagNames: news.tagNames,
    ...(news.schedule && { schedule: news.schedule })
  }
}

function message(event: NotificationEvent): string {
  switch (event.type) {
    case 'export.completed': {
      const { news } = event
      return completedMessage({ ...summary(news), rowCount: news.rowCount, rowsText: news.rowsText, sizeBytes: news.sizeBytes, partCount: news.partCount, downloadUrl: news.downloadUrl!, expiresAt: news.expiresAt!, deliveries: deliveryLines(news.deliveries) })
    }
    case 'export.failed':
      return failedMessage({ ...summary(event.news), reason: event.news.reason ?? 'Unknown error.', retryUrl: event.news.retryUrl })
    case 'schedule.paused': {
      const { paused } = event
      return schedulePausedMessage({ name: paused.name, cadence: describeCadence(paused.cadence), failures: paused.failures, reason: paused.last_error, schedulesUrl: paused.schedules_link })
    }
    case 'webhook.disabled':
      return webhookDisabledMessage(event.url, event.reason)
    case 'account.changed':
      return accountChangedMessage(event.change.what, event.change.activityLink)
  }
}

/** On when the Telegram service is (TELEGRAM_BOT_TOKEN set): it hands over its Bot API client. */
export const telegramChannel: ChannelFactory = deps => deps.telegram ? new TelegramChannel({ db: deps.db, telegram: deps.telegram, log: deps.log }) : null
