import { CHANNELS, channelKey, type ChannelKey, type NotificationSettingsDTO, type UpdateNotificationSettings } from '#shared/types/notifications'
import type { Config } from '../config'
import type { Db } from '../db/client'
import type { ExportJob } from '../exports/jobs/record'
import { scheduleChannels } from '../schedules/store'
import { seal, secretsKey, unseal } from '../secrets'
import { ValidationError } from '../validation'
import type { NotificationEvent } from './channel'
import { checkSlackUrl } from './channels/slack'
import type { UrlPolicy } from './webhooks/address'

/**
 * A user's notification choices. No row means the defaults: every configured channel announces
 * completed and failed exports and paused schedules, so a new user is told without visiting the
 * settings page. Channels with `settings` in CHANNELS have a column per outcome,
 * `<id>_completed`, `<id>_failed` and `<id>_schedule_paused`.
 */

type SettingsChannel = Extract<typeof CHANNELS[number], { settings: true }>['id']
const OUTCOMES = { completed: 'Completed', failed: 'Failed', schedule_paused: 'SchedulePaused' } as const
type Outcome = keyof typeof OUTCOMES
type ChoiceField = `${SettingsChannel}${typeof OUTCOMES[Outcome]}`
export type ChannelChoices = Record<ChoiceField, boolean>

const SETTINGS_CHANNELS = CHANNELS.filter(c => c.settings).map(c => c.id as SettingsChannel)
const OUTCOME_IDS = Object.keys(OUTCOMES) as Outcome[]
const field = (channel: SettingsChannel, outcome: Outcome): ChoiceField => `${channel}${OUTCOMES[outcome]}`

export const DEFAULT_CHOICES = Object.fromEntries(SETTINGS_CHANNELS.flatMap(c => OUTCOME_IDS.map(o => [field(c, o), true]))) as ChannelChoices

export async function channelChoices(db: Db, userId: string): Promise<ChannelChoices> {
  const row = await db.notificationSettings.findUnique({ where: { userId } })
  return row ? Object.fromEntries(Object.keys(DEFAULT_CHOICES).map(k => [k, row[k as ChoiceField]])) as ChannelChoices : DEFAULT_CHOICES
}

/** Whether the user wants this outcome on this channel (a channel without settings: always). */
async function userWants(db: Db, userId: string, key: ChannelKey, outcome: Outcome): Promise<boolean> {
  const channel = CHANNELS.find(c => c.key === key)!
  if (!channel.settings) return true
  return (await channelChoices(db, userId))[field(channel.id as SettingsChannel, outcome)]
}

/**
 * Whether this finished job is announced on this channel. A scheduled run asks its schedule first
 * (a channel it names decides, for either outcome); otherwise the user's settings decide, and for
 * webhooks each endpoint's subscribed events.
 */
export async function jobWants(db: Db, job: Pick<ExportJob, 'userId' | 'status' | 'scheduleId'>, key: ChannelKey): Promise<boolean> {
  if (job.status !== 'completed' && job.status !== 'failed') return false
  const chosen = job.scheduleId ? (await scheduleChannels(db, job.scheduleId))?.[key] : undefined
  if (chosen !== undefined) return chosen
  return userWants(db, job.userId, key, job.status)
}

/**
 * Whether an event reaches this channel. A paused schedule follows the schedule's own choice, else
 * the user's choice for paused schedules; a disabled webhook and an account change are alerts that always
 * go out (an account change, everywhere but on the channel it concerns).
 */
export async function eventWanted(db: Db, event: NotificationEvent, key: ChannelKey): Promise<boolean> {
  switch (event.type) {
    case 'export.completed':
    case 'export.failed':
      return jobWants(db, event.news.job, key)
    case 'schedule.paused': {
      const chosen = event.paused.channels?.[key]
      return chosen ?? userWants(db, event.userId, key, 'schedule_paused')
    }
    case 'webhook.disabled':
      return true
    case 'account.changed':
      return !event.change.about.some(channel => channelKey(channel) === key)
  }
}

/** What the settings page shows of a Slack URL: its host and the last four characters, never the secret path. */
function maskedUrl(sealed: string | null, key: Buffer | null): string | null {
  const url = sealed && key ? unseal(key, sealed) : null
  if (!url) return null
  return `${new URL(url).origin}/…${url.slice(-4)}`
}

export interface SettingsOptions extends UrlPolicy {
  /** Seals and unseals the Slack URL; null when the server has no NUXT_SESSION_PASSWORD. */
  key: Buffer | null
  /** Whether this server runs the channel (its bot token, its mail server). */
  configured: (channel: SettingsChannel) => boolean
}

export function settingsOptions(config: Pick<Config, 'NUXT_SESSION_PASSWORD' | 'WEBHOOK_ALLOW_HOSTS'>, configured: SettingsOptions['configured']): SettingsOptions {
  return { key: config.NUXT_SESSION_PASSWORD ? secretsKey(config.NUXT_SESSION_PASSWORD) : null, allowHosts: config.WEBHOOK_ALLOW_HOSTS, configured }
}

/** Why the server cannot send on a channel, in words for the settings page; null when it can. */
function unavailableReason(channel: SettingsChannel, opts: SettingsOptions): string | null {
  if (channel === 'telegram' && !opts.configured('telegram')) return 'This server has no Telegram bot set up (TELEGRAM_BOT_TOKEN).'
  if (channel === 'email' && !opts.configured('email')) return 'This server has no mail server set up (SMTP_URL).'
  if (channel === 'slack' && (!opts.configured('slack') || !opts.key)) return 'This server cannot store a Slack URL securely (NUXT_SESSION_PASSWORD).'
  return null
}

export async function getNotificationSettings(db: Db, user: { id: string, email: string }, opts: SettingsOptions): Promise<NotificationSettingsDTO> {
  const [c, row] = await Promise.all([
    channelChoices(db, user.id),
    db.notificationSettings.findUnique({ where: { userId: user.id }, select: { slackWebhookUrl: true } })
  ])
  const choices = (channel: SettingsChannel) => {
    const reason = unavailableReason(channel, opts)
    return {
      completed: c[field(channel, 'completed')],
      failed: c[field(channel, 'failed')],
      schedule_paused: c[field(channel, 'schedule_paused')],
      available: reason === null,
      unavailable_reason: reason
    }
  }
  return {
    telegram: choices('telegram'),
    email: { ...choices('email'), address: user.email },
    slack: { ...choices('slack'), webhook_url: maskedUrl(row?.slackWebhookUrl ?? null, opts.key) }
  }
}

/** Applies a partial update (fields left out keep their value) and returns the result. */
export async function updateNotificationSettings(db: Db, user: { id: string, email: string }, patch: UpdateNotificationSettings, opts: SettingsOptions): Promise<NotificationSettingsDTO> {
  const data: Partial<ChannelChoices> & { slackWebhookUrl?: string | null } = {}
  for (const channel of SETTINGS_CHANNELS) {
    for (const outcome of OUTCOME_IDS) {
      const value = patch[channel]?.[outcome]
      if (value !== undefined) data[field(channel, outcome)] = value
    }
  }
  const url = patch.slack?.webhook_url
  if (url !== undefined) data.slackWebhookUrl = url === null ? null : sealSlackUrl(url, opts)
  await db.notificationSettings.upsert({ where: { userId: user.id }, create: { userId: user.id, ...data }, update: data })
  return getNotificationSettings(db, user, opts)
}

/**
 * What a PATCH changes, one phrase each ("Slack: now posts to hooks.slack.com", "Email: failed
 * exports off"), for the audit trail and the alert on the user's other channels, and the channels
 * it concerns. A Slack URL is named by its host: its path is the secret.
 */
export function settingsChanges(patch: UpdateNotificationSettings): { changes: string[], channels: SettingsChannel[] } {
  const changes: string[] = []
  const channels = new Set<SettingsChannel>()
  for (const channel of SETTINGS_CHANNELS) {
    const label = CHANNELS.find(c => c.id === channel)!.label
    for (const outcome of OUTCOME_IDS) {
      const value = patch[channel]?.[outcome]
      if (value === undefined) continue
      changes.push(`${label}: ${outcome === 'schedule_paused' ? 'paused schedules' : `${outcome} exports`} ${value ? 'on' : 'off'}`)
      channels.add(channel)
    }
  }
  const url = patch.slack?.webhook_url
  if (url !== undefined) {
    changes.push(url === null ? 'Slack: webhook URL removed' : `Slack: now posts to ${new URL(url).host}`)
    channels.add('slack')
  }
  return { changes, channels: [...channels] }
}

function sealSlackUrl(url: string, opts: SettingsOptions): string {
  const refuse = (message: string) => new ValidationError([{ field: 'slack.webhook_url', message }])
  try {
    checkSlackUrl(url, opts)
  } catch (error) {
    throw refuse(`Must be a Slack incoming-webhook URL: ${(error as Error).message}`)
  }
  if (!opts.key) throw refuse('Slack cannot be set up on this server: it has no NUXT_SESSION_PASSWORD to seal the URL with')
  return seal(opts.key, url)
}
