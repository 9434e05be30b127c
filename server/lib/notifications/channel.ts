import type { Mail as Transporter } from 'nodemailer'
import type { Telegram } from 'telegraf'
import type { NotificationChannel, SchedulePausedData } from '#shared/types/notifications'
import type { Config } from '../config'
import type { Db } from '../db/client'
import type { LogFn } from '../log'
import type { JobNews, NewsOptions } from './summary'

/**
 * What a notification channel is: something that tells a user about one event. The pipeline
 * (pipeline.ts) decides whether the event reaches a channel — the claim, so each job is announced
 * once per channel, and what the user wants (settings.ts) — and the channel only sends. A channel
 * that needs durable retries keeps its own queue (webhooks: webhook_deliveries), so a retry
 * resends the stored message and never re-runs the export.
 */

export type NotificationEvent
  = | { type: 'export.completed' | 'export.failed', userId: string, news: JobNews }
    | { type: 'schedule.paused', userId: string, paused: SchedulePausedData }
    | { type: 'webhook.disabled', userId: string, url: string, reason: string }
    | { type: 'account.changed', userId: string, change: AccountChange }

/**
 * A change to where the user's notifications go (a webhook added, Telegram linked, the settings
 * changed): told on the user's other channels, so a change they did not make does not go unseen.
 */
export interface AccountChange {
  /** One sentence: "A webhook to hooks.example.com was added to your account". */
  what: string
  /** The channels the change is about, which are not told (one may be what an intruder added). */
  about: NotificationChannel[]
  /** The Activity page, which says who made the change. */
  activityLink: string
}

export type NotificationEventType = NotificationEvent['type']

/**
 * What became of one event on one channel, for outport_notifications_total: sent (or queued, for
 * a channel with its own queue), already-notified, not-wanted, not-linked (no chat, no address),
 * unlinked (the chat refused us for good), failed, error (the channel threw).
 */
export type Outcome = 'sent' | 'queued' | 'already-notified' | 'not-wanted' | 'not-linked' | 'unlinked' | 'failed' | 'error'

export interface Channel {
  readonly id: NotificationChannel
  /** The events it carries (a webhook is not told that a webhook was disabled). */
  readonly events: readonly NotificationEventType[]
  send(event: NotificationEvent): Promise<Outcome>
  /** Background work of the worker side (the webhook delivery loop). */
  start?(): void
  /** Lets sends under way finish, within a deadline. */
  close?(): Promise<void>
}

/** What a channel may use; each channel takes what it needs. */
export interface ChannelDeps {
  config: Config
  db: Db
  log: LogFn
  news: NewsOptions
  /** The SMTP transport (tests pass a catcher's); else from SMTP_URL. */
  mailer?: Transporter
  /** The Bot API client (tests pass one at a fake API); else from TELEGRAM_BOT_TOKEN. */
  telegram?: Telegram
  /** Told when the webhook channel disables an endpoint: the pipeline turns it into an event. */
  onEndpointDisabled: (userId: string, url: string, reason: string) => void
  /** Each webhook attempt's outcome (delivered, retry, gone, failed), and `dropped` per endpoint whose queue was full. */
  attemptMetrics?: (outcome: string) => void
}

/** A registry row's factory: null when this server has the channel off (no bot token, no SMTP_URL). */
export type ChannelFactory = (deps: ChannelDeps) => Channel | null
