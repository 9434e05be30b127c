import type { ExportJobDTO } from '#shared/types/exports'
import type { WebhookExportData } from '#shared/types/notifications'
import type { Config } from '#server/lib/config'
import type { Db } from '#server/lib/db/client'
import { exportDTO } from '#server/lib/exports/dto'
import type { LogFn } from '#server/lib/log'
import type { Channel, ChannelFactory, NotificationEvent, Outcome } from '../channel'
import type { JobNews } from '../summary'
import { ManualSends } from '../webhooks/endpoints'
import { enqueueEvent, WebhookDeliverer } from '../webhooks/queue'

/**
 * Signed webhooks (Standard Webhooks) to the user's endpoints that subscribed to the event. Sending
 * here is queueing: each endpoint's delivery is a webhook_deliveries row that the delivery loop
 * (webhooks/queue.ts) sends and retries with backoff, so a retry resends the stored payload. An
 * endpoint with WEBHOOK_MAX_PENDING_PER_ENDPOINT deliveries waiting misses the event (logged and
 * counted as `dropped`): its receiver is down or stalling, and the queue must not grow without end.
 */
export class WebhookChannel implements Channel {
  readonly id = 'webhook'
  readonly events = ['export.completed', 'export.failed', 'schedule.paused'] as const
  readonly deliverer: WebhookDeliverer
  /** The limits on test pings and redeliveries (the routes take from them). */
  readonly manualSends: ManualSends

  constructor(private readonly opts: { db: Db, config: Config, deliverer: WebhookDeliverer, log: LogFn, metrics?: (outcome: string) => void }) {
    this.deliverer = opts.deliverer
    this.manualSends = new ManualSends(opts.db, { perMinute: opts.config.WEBHOOK_MANUAL_SENDS_PER_MINUTE, maxPendingPerEndpoint: opts.config.WEBHOOK_MAX_PENDING_PER_ENDPOINT })
  }

  async send(event: NotificationEvent): Promise<Outcome> {
    if (event.type === 'webhook.disabled' || event.type === 'account.changed') return 'not-wanted'
    const data = event.type === 'schedule.paused' ? event.paused : exportData(event.news, this.opts.config)
    const { queued, dropped } = await enqueueEvent(this.opts.db, event.userId, event.type, data, this.opts.config.WEBHOOK_MAX_PENDING_PER_ENDPOINT)
    for (const endpointId of dropped) {
      this.opts.log(`webhook endpoint ${endpointId}: ${event.type} dropped, ${this.opts.config.WEBHOOK_MAX_PENDING_PER_ENDPOINT} deliveries already pending`)
      this.opts.metrics?.('dropped')
    }
    if (!queued) return dropped.length ? 'failed' : 'not-wanted'
    this.deliverer.wake()
    return 'queued'
  }

  start(): void {
    this.deliverer.start()
  }

  close(): Promise<void> {
    return this.deliverer.stop()
  }
}

/** The export DTO without the presigned URL (it would outlive its minutes in a receiver's logs), plus the signed app link. */
export function exportData(news: JobNews, config: Config): WebhookExportData {
  const dto: Partial<ExportJobDTO> = exportDTO(news.job, null, config, null, news.deliveries)
  // Not for a receiver: a presigned URL (none here anyway), and what only a pending job has.
  delete dto.download_url
  delete dto.expires_at
  delete dto.queue_position
  delete dto.progress
  // A multi-part export's manifest is a presigned URL too; its parts' links are null here, and the
  // signed link takes `&part=N`.
  delete dto.manifest_url
  return {
    ...dto as WebhookExportData,
    download_link: news.downloadUrl,
    download_link_expires_at: news.downloadUrl ? news.expiresAt?.toISOString() ?? null : null,
    schedule_name: news.schedule?.name ?? null
  }
}

/** Always on: each user adds their own endpoints. */
export const webhookChannel: ChannelFactory = deps => new WebhookChannel({
  db: deps.db,
  config: deps.config,
  log: deps.log,
  metrics: deps.attemptMetrics,
  deliverer: new WebhookDeliverer({
    db: deps.db,
    allowHosts: deps.config.WEBHOOK_ALLOW_HOSTS,
    retryBaseMs: deps.config.WEBHOOK_RETRY_BASE_MS,
    maxAttempts: deps.config.WEBHOOK_MAX_ATTEMPTS,
    disableAfterFailures: deps.config.WEBHOOK_DISABLE_AFTER_FAILURES,
    log: deps.log,
    metrics: deps.attemptMetrics,
    onDisabled: (endpoint, reason) => deps.onEndpointDisabled(endpoint.userId, endpoint.url, reason)
  })
})
