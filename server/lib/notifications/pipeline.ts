import { setTimeout as sleep } from 'node:timers/promises'
import { CHANNELS, channelKey, type NotificationChannel } from '#shared/types/notifications'
import { downloadTokenKey } from '../exports/download-token'
import { claimChannelNotification, unclaimedJobIds } from '../exports/jobs/housekeeping'
import { activityUrl, schedulesUrl } from '../links'
import type { NotificationMetrics } from '../metrics'
import type { PausedSchedule } from '../schedules/scheduler'
import { toScheduleDTOs } from '../schedules/store'
import type { AccountChange, Channel, ChannelDeps, NotificationEvent, Outcome } from './channel'
import { CHANNEL_FACTORIES } from './channels'
import type { WebhookChannel } from './channels/webhook'
import { eventWanted } from './settings'
import { jobNews } from './summary'

/**
 * "Tell the user about an event", for every channel the same way. A finished export is claimed
 * once per job and channel in job_notifications before anything is sent, so however many workers,
 * sweeps and re-runs reach it, each channel announces it once (a crash between claim and send
 * loses that message rather than risking a duplicate); the sweep finds what a dead process never
 * claimed. A paused schedule, a disabled webhook and an account change are told by the one call that
 * changed them.
 * Each channel then asks what the user wants (settings.ts) and sends; a channel that fails is
 * logged and counted, the others go on, and nothing here touches the job.
 */

export interface PipelineOptions extends Omit<ChannelDeps, 'news' | 'onEndpointDisabled' | 'attemptMetrics'> {
  /** outport_notifications_total: every decision, by channel and outcome. */
  metrics?: NotificationMetrics
}

export class NotificationPipeline {
  readonly channels: Channel[]
  private readonly inflight = new Set<Promise<unknown>>()

  constructor(private readonly opts: PipelineOptions) {
    const { config, metrics } = opts
    const deps: ChannelDeps = {
      ...opts,
      news: {
        appUrl: config.APP_URL,
        downloadKey: config.NUXT_SESSION_PASSWORD ? downloadTokenKey(config.NUXT_SESSION_PASSWORD) : null,
        retentionHours: config.EXPORT_RETENTION_HOURS
      },
      onEndpointDisabled: (userId, url, reason) => this.publish({ type: 'webhook.disabled', userId, url, reason }),
      attemptMetrics: metrics && (outcome => metrics('webhook', outcome))
    }
    this.news = deps.news
    this.channels = CHANNELS.map(c => CHANNEL_FACTORIES[c.id](deps)).filter(c => c !== null)
  }

  private readonly news: ChannelDeps['news']

  channel(id: NotificationChannel): Channel | undefined {
    return this.channels.find(c => c.id === id)
  }

  /** The webhook delivery loop, woken by the test and redeliver routes. */
  get webhooks(): WebhookChannel {
    return this.channel('webhook') as WebhookChannel
  }

  /** A job reached a final status (the worker's onFinished, a schedule's run that could not start): every channel, in the background. */
  jobFinished(jobId: string): void {
    for (const channel of this.channels) this.track(this.announce(channel.id, jobId), `job ${jobId} on ${channel.id}`)
  }

  /** Claims the job on one channel and, if this call won, tells the user there. */
  async announce(channelId: NotificationChannel, jobId: string): Promise<Outcome> {
    const channel = this.channel(channelId)
    if (!channel) return 'not-wanted'
    return this.count(channel, async () => {
      const job = await claimChannelNotification(this.opts.db, jobId, channel.id)
      if (!job) return 'already-notified'
      const type = job.status === 'completed' ? 'export.completed' : 'export.failed'
      return this.deliver(channel, { type, userId: job.userId, news: await jobNews(this.opts.db, job, this.news) })
    })
  }

  /** A schedule paused itself after failed runs in a row: told once, by the call that paused it. */
  schedulePaused(paused: PausedSchedule, lastError: string | null): void {
    this.track((async () => {
      const [schedule] = await toScheduleDTOs(this.opts.db, [paused.schedule])
      await this.broadcast({
        type: 'schedule.paused',
        userId: paused.schedule.userId,
        paused: { ...schedule!, failures: paused.failures, last_error: lastError, schedules_link: schedulesUrl(this.opts.config.APP_URL) }
      })
    })(), `schedule ${paused.schedule.id} paused`)
  }

  /** Where the user's notifications go changed: told on their other channels, in the background. */
  accountChanged(userId: string, change: Omit<AccountChange, 'activityLink'>): void {
    this.publish({ type: 'account.changed', userId, change: { ...change, activityLink: activityUrl(this.opts.config.APP_URL) } })
  }

  /** An event that is not a job's: every channel that carries it, in the background. */
  publish(event: NotificationEvent): void {
    this.track(this.broadcast(event), event.type)
  }

  private async broadcast(event: NotificationEvent): Promise<void> {
    await Promise.all(this.channels.filter(c => c.events.includes(event.type)).map(channel =>
      this.count(channel, () => this.deliver(channel, event))
        .catch((error: Error) => this.opts.log(`notification (${event.type} on ${channel.id}) failed: ${error.message}`))
    ))
  }

  /**
   * Final jobs from the last `lookbackMs` that a channel never claimed: their process died between
   * finishing the job and announcing it, or the channel was off then. Older ones stay silent:
   * news about yesterday's export is noise. Returns how many messages went out.
   */
  async sweep(lookbackMs = 3600_000, signal?: AbortSignal): Promise<number> {
    const since = new Date(Date.now() - lookbackMs)
    let sent = 0
    for (const channel of this.channels) {
      for (const id of await unclaimedJobIds(this.opts.db, channel.id, since, 100)) {
        if (signal?.aborted) return sent
        const outcome = await this.announce(channel.id, id)
        if (outcome === 'sent' || outcome === 'queued') sent++
      }
    }
    return sent
  }

  /** The worker side's background work (the webhook delivery loop). */
  start(): void {
    for (const channel of this.channels) channel.start?.()
  }

  /** Waits for sends under way (up to the deadline), then stops every channel (which cuts retry waits short). */
  async close(deadlineMs = 10_000): Promise<void> {
    const all = Promise.allSettled([...this.inflight])
    await Promise.race([all, sleep(deadlineMs, undefined, { ref: false })])
    await Promise.allSettled(this.channels.map(c => c.close?.()))
    await all
  }

  private async deliver(channel: Channel, event: NotificationEvent): Promise<Outcome> {
    if (!await eventWanted(this.opts.db, event, channelKey(channel.id))) return 'not-wanted'
    return channel.send(event)
  }

  private async count(channel: Channel, decide: () => Promise<Outcome>): Promise<Outcome> {
    try {
      const outcome = await decide()
      this.opts.metrics?.(channel.id, outcome)
      return outcome
    } catch (error) {
      this.opts.metrics?.(channel.id, 'error')
      throw error
    }
  }

  private track(task: Promise<unknown>, what: string): void {
    const tracked = task
      .catch((error: Error) => this.opts.log(`notification (${what}) failed: ${error.message}`))
      .finally(() => this.inflight.delete(tracked))
    this.inflight.add(tracked)
  }
}
