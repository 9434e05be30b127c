import { setTimeout as sleep } from 'node:timers/promises'
import { SLACK_HOSTS } from '#shared/types/notifications'
import { describeCadence } from '#shared/types/schedules'
import { formatExportSize } from '#shared/utils/format'
import { backoffMs } from '#server/lib/backoff'
import type { Db } from '#server/lib/db/client'
import type { LogFn } from '#server/lib/log'
import { secretsKey, unseal } from '#server/lib/secrets'
import { formatUtc } from '#server/lib/telegram/messages'
import type { Channel, ChannelFactory, NotificationEvent, Outcome } from '../channel'
import { checkUrlShape, UnsafeUrlError, type UrlPolicy } from '../webhooks/address'
import { attemptDelivery } from '../webhooks/deliver'
import { deliveryLines } from '../summary'

/**
 * Slack, through the incoming-webhook URL the user pasted in their notification settings: a Block
 * Kit message per event, POSTed as JSON (Slack answers 200 `ok`). The URL goes through the webhook
 * rules (https, no private addresses, the vetted address pinned, no redirects) and must be Slack's
 * own host unless WEBHOOK_ALLOW_HOSTS names another. A 429 or 5xx is retried a few times; a URL
 * Slack says is gone (404 no_service, 410 channel_is_archived) is removed, as a blocked Telegram
 * chat is unlinked.
 */

export interface SlackMessage {
  text: string
  blocks: Array<Record<string, unknown>>
}

/** Slack's mrkdwn needs only these three escaped; the rest of a user's text is shown as typed. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

const plain = (text: string, max: number) => ({ type: 'plain_text', text: text.length > max ? `${text.slice(0, max - 1)}…` : text, emoji: true })
const field = (name: string, value: string) => ({ type: 'mrkdwn', text: `*${esc(name)}*\n${esc(value).slice(0, 1900)}` })
const button = (text: string, url: string) => ({ type: 'actions', elements: [{ type: 'button', text: plain(text, 75), url }] })

export function slackMessage(event: NotificationEvent): SlackMessage {
  switch (event.type) {
    case 'export.completed':
    case 'export.failed': {
      const n = event.news
      const done = event.type === 'export.completed'
      const title = `${done ? 'Export ready' : 'Export failed'}: ${n.datasetTitle}`
      const fields = [
        ...(n.schedule ? [field('Schedule', n.schedule.name ?? '(unnamed schedule)')] : []),
        field('Format', n.formatLabel),
        ...(done
          ? [field('Rows', n.rowsText), field('Size', formatExportSize(n.sizeBytes, n.partCount, 'en-US'))]
          : [field('Reason', n.reason ?? 'Unknown error.')]),
        ...deliveryLines(n.deliveries).map(line => field('Destination', line))
      ]
      const link = done ? n.downloadUrl : n.retryUrl
      return {
        text: done ? `${title} (${formatExportSize(n.sizeBytes, n.partCount, 'en-US')})` : `${title}: ${n.reason ?? 'Unknown error.'}`,
        blocks: [
          { type: 'header', text: plain(`${done ? '✅' : '❌'} ${title}`, 150) },
          { type: 'section', fields },
          ...(link ? [button(done ? 'Download' : 'Open Outport to try again', link)] : []),
          ...(done && n.expiresAt ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: `Available until ${formatUtc(n.expiresAt)}` }] }] : [])
        ]
      }
    }
    case 'schedule.paused': {
      const p = event.paused
      const title = `Schedule paused: ${p.name ? `“${p.name}”` : `(${describeCadence(p.cadence)})`}`
      const why = `Its last ${p.failures} runs failed, so it will not run again until you resume it.${p.last_error ? ` Last error: ${p.last_error}` : ''}`
      return {
        text: `${title}. ${why}`,
        blocks: [
          { type: 'header', text: plain(`⏸️ ${title}`, 150) },
          { type: 'section', text: { type: 'mrkdwn', text: esc(why) } },
          button('Open your schedules', p.schedules_link)
        ]
      }
    }
    case 'webhook.disabled': {
      const why = `Outport stopped sending to your webhook endpoint ${event.url}: ${event.reason}`
      return {
        text: `Webhook endpoint disabled. ${why}`,
        blocks: [
          { type: 'header', text: plain('⚠️ Webhook endpoint disabled', 150) },
          { type: 'section', text: { type: 'mrkdwn', text: esc(why) } }
        ]
      }
    }
    case 'account.changed': {
      const what = `${event.change.what}. If this was not you, undo it and revoke the API token that made it (Activity names it).`
      return {
        text: `Your Outport account changed. ${what}`,
        blocks: [
          { type: 'header', text: plain('🔔 Your Outport account changed', 150) },
          { type: 'section', text: { type: 'mrkdwn', text: esc(what) } },
          button('Open Activity', event.change.activityLink)
        ]
      }
    }
  }
}

/** https to Slack's host, or to a host of the webhook allow-list; throws UnsafeUrlError saying why not. */
export function checkSlackUrl(raw: string, policy: UrlPolicy): URL {
  const url = checkUrlShape(raw, policy)
  const host = url.hostname.toLowerCase()
  if (!SLACK_HOSTS.includes(host) && !policy.allowHosts.includes(host)) {
    throw new UnsafeUrlError(`must be a Slack incoming-webhook URL (${SLACK_HOSTS.join(', ')})`)
  }
  return url
}

export interface SlackChannelOptions extends UrlPolicy {
  db: Db
  /** Unseals the stored URLs. */
  key: Buffer
  log: LogFn
  maxAttempts?: number
  retryBaseMs?: number
  timeoutMs?: number
}

export class SlackChannel implements Channel {
  readonly id = 'slack'
  readonly events = ['export.completed', 'export.failed', 'schedule.paused', 'webhook.disabled', 'account.changed'] as const
  private readonly closing = new AbortController()
  private readonly opts: Required<SlackChannelOptions>

  constructor(options: SlackChannelOptions) {
    this.opts = { maxAttempts: 3, retryBaseMs: 1000, timeoutMs: 10_000, ...options }
  }

  async send(event: NotificationEvent): Promise<Outcome> {
    const { db, key, log, maxAttempts, retryBaseMs, timeoutMs, allowHosts } = this.opts
    const row = await db.notificationSettings.findUnique({ where: { userId: event.userId }, select: { slackWebhookUrl: true } })
    const url = row?.slackWebhookUrl ? unseal(key, row.slackWebhookUrl) : null
    if (!url) return 'not-linked'
    const host = safeHost(url)
    try {
      checkSlackUrl(url, { allowHosts })
    } catch (error) {
      log(`Slack message to ${host} refused: ${(error as Error).message}`, { user_id: event.userId })
      return 'failed'
    }
    const body = JSON.stringify(slackMessage(event))
    for (let attempt = 1; ; attempt++) {
      const result = await attemptDelivery(url, {}, body, { allowHosts, timeoutMs })
      if (result.ok) return 'sent'
      const answer = result.body.trim().slice(0, 100)
      if (result.statusCode === 404 || result.statusCode === 410) {
        await db.notificationSettings.updateMany({ where: { userId: event.userId, slackWebhookUrl: row!.slackWebhookUrl }, data: { slackWebhookUrl: null } })
        log(`Slack answered ${result.statusCode} ${answer} for ${host}: the webhook URL is gone and was removed`, { user_id: event.userId })
        return 'unlinked'
      }
      const retryable = result.statusCode === null || result.statusCode === 429 || result.statusCode >= 500
      if (retryable && attempt < maxAttempts && !this.closing.signal.aborted) {
        const waitMs = Math.min(30_000, (result.retryAfterSeconds ?? 0) * 1000 || backoffMs(attempt, { baseMs: retryBaseMs }))
        if (await sleep(waitMs, true, { signal: this.closing.signal }).catch(() => false)) continue
      }
      log(`Slack message to ${host} not delivered after ${attempt} attempt(s): ${result.error}${answer ? ` (${answer})` : ''}`, { user_id: event.userId })
      return 'failed'
    }
  }

  async close(): Promise<void> {
    this.closing.abort()
  }
}

/** The host only: the path of an incoming-webhook URL is its secret and never goes into a log line. */
function safeHost(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return '(invalid URL)'
  }
}

/** On wherever stored URLs can be unsealed (NUXT_SESSION_PASSWORD set); each user pastes their own URL. */
export const slackChannel: ChannelFactory = deps => deps.config.NUXT_SESSION_PASSWORD
  ? new SlackChannel({ db: deps.db, key: secretsKey(deps.config.NUXT_SESSION_PASSWORD), log: deps.log, allowHosts: deps.config.WEBHOOK_ALLOW_HOSTS })
  : null
