import type { Mail as Transporter } from 'nodemailer'
import type { Config } from '../config'
import type { Db } from '../db/client'
import type { NotificationMetrics } from '../metrics'
import { downloadTokenKey } from '../exports/download-token'
import { exportDTO } from '../exports/dto'
import { claimChannelNotification, unclaimedJobIds } from '../exports/jobs/housekeeping'
import type { ExportJob } from '../exports/jobs/record'
import type { ExportJobDTO } from '../../../shared/types/exports'
import type { SchedulePausedData, WebhookExportData } from '../../../shared/types/notifications'
import { createMailer, EmailNotifier, endpointDisabledEmail } from './email'
import { jobWants } from './settings'
import { jobNews, type NewsOptions } from './summary'
import { enqueueEvent, WebhookDeliverer } from './webhooks/queue'

/**
 * Fans a finished export out to every channel: Telegram (its own notifier, passed in), email and
 * webhooks, each claimed once per job and channel and each respecting the user's settings.
 * Nothing here touches the job: a channel that fails is logged and the others go on.
 * A scheduled run's channels are its schedule's choice where it made one (`jobWants()` in
 * settings.ts, asked by each channel when it claims the job, so the sweeps obey it too).
 */

export interface DispatcherOptions {
  config: Config
  db: Db
  /** The Telegram notifier's enqueue, when Telegram is on. */
  telegram?: (jobId: string) => void
  log: (line: string) => void
  mailer?: Transporter
  /** outport_notifications_total, with the channel labels email and webhook. */
  metrics?: NotificationMetrics
}

export class NotificationDispatcher {
  readonly email: EmailNotifier | null
  readonly deliverer: WebhookDeliverer
  private readonly news: NewsOptions
  private readonly inflight = new Set<Promise<unknown>>()

  constructor(private readonly opts: DispatcherOptions) {
    const { config, db, log } = opts
    this.news = {
      appUrl: config.APP_URL,
      downloadKey: config.NUXT_SESSION_PASSWORD ? downloadTokenKey(config.NUXT_SESSION_PASSWORD) : null,
      retentionHours: config.EXPORT_RETENTION_HOURS
    }
    const mailer = opts.mailer ?? (config.SMTP_URL ? createMailer(config.SMTP_URL) : undefined)
    const metrics = opts.metrics
    this.email = mailer ? new EmailNotifier({ db, mailer, from: config.EMAIL_FROM, log, metrics: metrics && (outcome => metrics('email', outcome)), ...this.news }) : null
    this.deliverer = new WebhookDeliverer({
      db,
      allowHosts: config.WEBHOOK_ALLOW_HOSTS,
      retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
      maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
      disableAfterFailures: config.WEBHOOK_DISABLE_AFTER_FAILURES,
      log,
      metrics: metrics && (outcome => metrics('webhook', outcome)),
      onDisabled: (endpoint, reason) => this.tellDisabled(endpoint.userId, endpoint.url, reason)
    })
  }

  /** Called by the worker's onFinished for every job that reached a final status. */
  jobFinished(jobId: string): void {
    this.opts.telegram?.(jobId)
    this.email?.enqueue(jobId)
    this.track(this.webhooks(jobId))
  }

  /** `schedule.paused` to the user's endpoints that subscribed to it, when a schedule paused itself. */
  async schedulePaused(userId: string, data: SchedulePausedData): Promise<number> {
    const queued = await enqueueEvent(this.opts.db, userId, 'schedule.paused', data)
    if (queued) this.deliverer.wake()
    return queued
  }

  /** Final jobs from the last hour that email or webhooks never claimed (their process died first). */
  async sweep(lookbackMs = 3600_000): Promise<void> {
    const since = new Date(Date.now() - lookbackMs)
    if (this.email) for (const id of await unclaimedJobIds(this.opts.db, 'email', since, 100)) await this.email.notify(id)
    for (const id of await unclaimedJobIds(this.opts.db, 'webhook', since, 100)) await this.webhooks(id)
  }

  private async webhooks(jobId: string): Promise<void> {
    const job = await claimChannelNotification(this.opts.db, jobId, 'webhook')
    if (!job || !await jobWants(this.opts.db, job, 'webhooks')) return
    const type = job.status === 'completed' ? 'export.completed' : 'export.failed'
    const queued = await enqueueEvent(this.opts.db, job.userId, type, await this.exportData(job))
    if (queued) this.deliverer.wake()
  }

  /** The export DTO without the presigned URL (it would outlive its minutes in a receiver's logs), plus the signed app link. */
  async exportData(job: ExportJob): Promise<WebhookExportData> {
    const news = await jobNews(this.opts.db, job, this.news)
    const dto: Partial<ExportJobDTO> = exportDTO(job, null, this.opts.config)
    // Not for a receiver: a presigned URL (none here anyway), and what only a pending job has.
    delete dto.download_url
    delete dto.expires_at
    delete dto.queue_position
    delete dto.progress
    return {
      ...dto as WebhookExportData,
      download_link: news.downloadUrl,
      download_link_expires_at: news.downloadUrl ? news.expiresAt?.toISOString() ?? null : null,
      schedule_name: news.schedule?.name ?? null
    }
  }

  private async tellDisabled(userId: string, url: string, reason: string): Promise<void> {
    if (!this.email) return
    const user = await this.opts.db.user.findUnique({ where: { id: userId }, select: { email: true } })
    if (user) await this.email.send(user.email, endpointDisabledEmail(url, reason, this.opts.config.APP_URL), `disabled webhook ${url}`)
  }

  private track(task: Promise<unknown>): void {
    const tracked = task.catch((error: Error) => this.opts.log(`webhooks: ${error.message}`)).finally(() => this.inflight.delete(tracked))
    this.inflight.add(tracked)
  }

  startDelivering(): void {
    this.deliverer.start()
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.inflight])
    await this.deliverer.stop()
    await this.email?.close()
  }
}
