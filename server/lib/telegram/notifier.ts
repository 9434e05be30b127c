import { setTimeout as sleep } from 'node:timers/promises'
import { TelegramError, type Telegram } from 'telegraf'
import { withTimeout } from './bot'
import { isUuid } from '../../../shared/utils/uuid'
import type { Db } from '../db/client'
import { retentionEnd, signedDownloadUrl } from '../exports/download-token'
import { claimNotification, unannouncedJobIds } from '../exports/jobs/housekeeping'
import type { ExportJob } from '../exports/jobs/record'
import type { LogFn } from '../log'
import type { NotificationMetrics } from '../metrics'
import { findDataset } from '../warehouse/datasets'
import { jobWants } from '../notifications/settings'
import { unlinkChat } from './linking'
import { recordAuditEvent } from '../audit'
import { describeCadence } from '../../../shared/types/schedules'
import type { PausedSchedule } from '../schedules/scheduler'
import { completedMessage, failedMessage, schedulePausedMessage, type ExportSummary } from './messages'

export interface NotifierOptions {
  db: Db
  telegram: Telegram
  appUrl: string
  downloadKey: Buffer
  retentionHours: number
  log: LogFn
  /** Counts each notification's outcome (channel `telegram`) for /metrics. */
  metrics?: NotificationMetrics
  /** Attempts per message when Telegram answers 429. */
  maxAttempts?: number
  /** A 429 asking to wait longer than this is not waited for: the message is given up. */
  maxRetryAfterSeconds?: number
  requestTimeoutMs?: number
}

export type NotifyOutcome = 'sent' | 'already-notified' | 'not-linked' | 'not-wanted' | 'unlinked' | 'failed'

/**
 * Tells users on Telegram that their export finished or failed, once per job. `jobs.notified_at`
 * is claimed with a conditional UPDATE before sending, so however many workers, sweeps and
 * re-runs reach the same job, one of them sends; a crash between claim and send loses that
 * message rather than risking a duplicate. Delivery problems are logged and never touch the job.
 */
export class TelegramNotifier {
  private readonly inflight = new Set<Promise<unknown>>()
  private readonly closing = new AbortController()
  private readonly opts: Required<NotifierOptions>

  constructor(options: NotifierOptions) {
    this.opts = { maxAttempts: 3, maxRetryAfterSeconds: 30, requestTimeoutMs: 10_000, ...options, metrics: options.metrics ?? (() => {}) }
  }

  /** Notifies in the background, so a slow Telegram never holds a worker slot. */
  enqueue(jobId: string): void {
    const task = this.notify(jobId).catch((error: Error) => {
      this.opts.log(`notification for job ${jobId} failed: ${error.message}`, { job_id: jobId })
    }).finally(() => this.inflight.delete(task))
    this.inflight.add(task)
  }

  async notify(jobId: string): Promise<NotifyOutcome> {
    try {
      const outcome = await this.deliver(jobId)
      this.opts.metrics('telegram', outcome)
      return outcome
    } catch (error) {
      this.opts.metrics('telegram', 'error')
      throw error
    }
  }

  private async deliver(jobId: string): Promise<NotifyOutcome> {
    const { db } = this.opts
    const job = await claimNotification(db, jobId)
    if (!job) return 'already-notified'
    const user = await db.user.findUnique({ where: { id: job.userId }, select: { telegramChatId: true } })
    const chatId = user?.telegramChatId ?? null
    if (chatId === null) return 'not-linked'
    // The schedule's channels, else the user's notification settings (completed / failed), as for email.
    if (!await jobWants(db, job, 'telegram')) return 'not-wanted'
    const text = await this.message(job)
    return this.send(chatId, text, { what: `job ${job.id}`, fields: { job_id: job.id, user_id: job.userId } })
  }

  /**
   * Final jobs from the last `lookbackMs` that nobody claimed: their process died between finishing
   * the job and notifying, or Telegram was not configured then. Older ones stay silent: news
   * about yesterday's export is noise.
   */
  async sweep(lookbackMs = 3600_000): Promise<number> {
    const ids = await unannouncedJobIds(this.opts.db, new Date(Date.now() - lookbackMs), 100)
    let sent = 0
    for (const id of ids) {
      if (this.closing.signal.aborted) break
      if (await this.notify(id) === 'sent') sent++
    }
    return sent
  }

  /**
   * Tells the user a schedule paused itself after repeated failures. Sent by the one call that
   * paused it (settleSchedule), so once.
   */
  notifySchedulePaused(paused: PausedSchedule, lastError: string | null): void {
    const task = (async () => {
      const user = await this.opts.db.user.findUnique({ where: { id: paused.schedule.userId }, select: { telegramChatId: true } })
      if (user?.telegramChatId == null) return 'not-linked'
      const text = schedulePausedMessage({
        name: paused.schedule.name,
        cadence: describeCadence(paused.schedule.cadence),
        failures: paused.failures,
        reason: lastError,
        schedulesUrl: new URL('analytics/schedules', this.opts.appUrl.endsWith('/') ? this.opts.appUrl : `${this.opts.appUrl}/`).toString()
      })
      return this.send(user.telegramChatId, text, { what: `schedule ${paused.schedule.id}`, fields: { schedule_id: paused.schedule.id, user_id: paused.schedule.userId } })
    })().catch((error: Error) => {
      this.opts.log(`pause notification for schedule ${paused.schedule.id} failed: ${error.message}`)
    }).finally(() => this.inflight.delete(task))
    this.inflight.add(task)
  }

  /** Waits for notifications under way (up to the deadline), then abandons 429 waits. */
  async close(deadlineMs = 10_000): Promise<void> {
    const all = Promise.allSettled([...this.inflight])
    await Promise.race([all, sleep(deadlineMs, undefined, { ref: false })])
    this.closing.abort()
    await all
  }

  private async message(job: ExportJob): Promise<string> {
    const { metadata } = job
    const filters = metadata.filters
    const [accounts, tags] = await Promise.all([
      this.opts.db.account.findMany({ where: { userId: job.userId, id: { in: filters.account_ids.filter(isUuid) } }, select: { id: true, name: true } }),
      this.opts.db.tag.findMany({ where: { userId: job.userId, id: { in: filters.tag_ids.filter(isUuid) } }, select: { id: true, name: true } })
    ])
    const summary: ExportSummary = {
      datasetTitle: findDataset(metadata.dataset_id)?.title ?? metadata.dataset_name,
      format: metadata.format,
      compression: metadata.compression ?? 'none',
      filters,
      accountNames: new Map(accounts.map(a => [a.id, a.name])),
      tagNames: new Map(tags.map(t => [t.id, t.name])),
      ...(metadata.schedule && { schedule: metadata.schedule })
    }
    if (job.status === 'completed') {
      const expiresAt = retentionEnd(job.completedAt!, this.opts.retentionHours)
      return completedMessage({
        ...summary,
        rowCount: metadata.row_count ?? 0,
        sizeBytes: metadata.file_size_bytes ?? 0,
        downloadUrl: signedDownloadUrl(this.opts.appUrl, this.opts.downloadKey, job.id, expiresAt),
        expiresAt
      })
    }
    return failedMessage({
      ...summary,
      reason: job.error?.message ?? 'Unknown error.',
      retryUrl: retryUrl(this.opts.appUrl, metadata.dataset_id, job.id)
    })
  }

  /** `about`: what the message concerns, for the log (a job, or a schedule). */
  private async send(chatId: bigint, text: string, about: { what: string, fields: Record<string, string> }): Promise<NotifyOutcome> {
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

/** The datasets page with this job's export dialog open: it shows the failure and a Retry button. */
export function retryUrl(appUrl: string, datasetId: string, jobId: string): string {
  const url = new URL('analytics/datasets', appUrl.endsWith('/') ? appUrl : `${appUrl}/`)
  url.searchParams.set('export', datasetId)
  url.searchParams.set('job', jobId)
  return url.toString()
}
