import { z } from 'zod'
import type { ExportJobDTO } from './exports'
import type { ScheduleDTO } from './schedules'
import { storedText } from './text'

/** Notification settings and webhooks, shared by the API and the Notifications page (snake_case). */

/**
 * Every notification channel, spelled once. `id` names it in the claim table, the metrics and the
 * code; `key` is its name in the API (notification settings, a schedule's `channels`, the
 * configured-channels answer); `settings`: whether the user turns it on per outcome (webhooks are
 * chosen per endpoint instead). Adding a channel is a row here and its file under
 * server/lib/notifications/channels/.
 */
export const CHANNELS = [
  { id: 'telegram', key: 'telegram', label: 'Telegram', settings: true },
  { id: 'email', key: 'email', label: 'Email', settings: true },
  { id: 'webhook', key: 'webhooks', label: 'Webhooks', settings: false },
  { id: 'slack', key: 'slack', label: 'Slack', settings: true }
] as const

export type NotificationChannel = typeof CHANNELS[number]['id']
export type ChannelKey = typeof CHANNELS[number]['key']
export const NOTIFICATION_CHANNELS = CHANNELS.map(c => c.id)
export const CHANNEL_KEYS = CHANNELS.map(c => c.key)

export function channelKey(id: NotificationChannel): ChannelKey {
  return CHANNELS.find(c => c.id === id)!.key
}

/** The hosts a Slack incoming-webhook URL may point at without the webhook allow-list. */
export const SLACK_HOSTS = ['hooks.slack.com']

const timestamp = z.iso.datetime()

/** A channel's choices per outcome, and whether this server can send on it at all. */
const channelChoices = z.object({
  completed: z.boolean(),
  failed: z.boolean(),
  schedule_paused: z.boolean().meta({ description: 'A schedule paused itself after failed runs in a row' }),
  available: z.boolean().meta({ description: 'False when this server has not set the channel up (no Telegram bot, no mail server, no key to keep a Slack URL): the choices are kept but nothing is sent' }),
  unavailable_reason: z.string().nullable().meta({ description: 'Why the channel is unavailable, in words; null when available' })
})

export const NotificationSettingsSchema = z.object({
  telegram: channelChoices,
  /** `address` is the account's email. */
  email: channelChoices.extend({
    address: z.string().meta({ description: 'The account\'s email (not changeable here)' })
  }),
  slack: channelChoices.extend({
    webhook_url: z.string().nullable().meta({ description: 'The Slack incoming-webhook URL with its secret path masked (`https://hooks.slack.com/services/T…/••••`); null: Slack is not set up' })
  })
}).meta({ id: 'NotificationSettings', description: 'Whether completed and failed exports and paused schedules are announced on each channel' })

export type NotificationSettingsDTO = z.infer<typeof NotificationSettingsSchema>

/** Which channels this server has configured (GET /api/notifications/channels). */
export const NotificationChannelsSchema = z.object({
  telegram: z.boolean().meta({ description: 'TELEGRAM_BOT_TOKEN is set' }),
  email: z.boolean().meta({ description: 'SMTP_URL is set' }),
  webhooks: z.boolean().meta({ description: 'Always true' }),
  slack: z.boolean().meta({ description: 'Always true: each user pastes their own incoming-webhook URL' })
})

export type NotificationChannelsDTO = z.infer<typeof NotificationChannelsSchema>

const toggles = z.strictObject({ completed: z.boolean().optional(), failed: z.boolean().optional(), schedule_paused: z.boolean().optional() })

/** PATCH: any subset of the GET shape; the address is the account's and cannot be changed here. */
/** A Slack incoming-webhook URL: https (the host is checked on the server against hooks.slack.com and the webhook allow-list). */
export const SlackWebhookUrlSchema = storedText({ max: 2048 }).pipe(z.url({ protocol: /^https?$/, message: 'Must be an https URL' }))

export const UpdateNotificationSettingsSchema = z.strictObject({
  telegram: toggles.optional(),
  email: toggles.extend({ address: z.string().optional() }).optional(),
  slack: toggles.extend({
    webhook_url: SlackWebhookUrlSchema.nullable().optional().meta({ description: 'Your Slack incoming-webhook URL; null removes it' })
  }).optional()
})
export type UpdateNotificationSettings = z.infer<typeof UpdateNotificationSettingsSchema>

export const WEBHOOK_EVENTS = ['export.completed', 'export.failed', 'schedule.paused'] as const
export type WebhookEvent = typeof WEBHOOK_EVENTS[number]
/** What a delivery can carry: the events a user subscribes to, and the test `ping`. */
export const WEBHOOK_MESSAGE_TYPES = [...WEBHOOK_EVENTS, 'ping'] as const
export type WebhookMessageType = typeof WEBHOOK_MESSAGE_TYPES[number]

export const CreateWebhookSchema = z.strictObject({
  url: storedText({ max: 2048 }).pipe(z.url({ protocol: /^https?$/, message: 'Must be an http(s) URL' })),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1, 'Choose at least one event').transform(events => [...new Set(events)]),
  description: storedText({ max: 200 }).nullish()
})
export type CreateWebhook = z.infer<typeof CreateWebhookSchema>

export const WebhookEndpointSchema = z.object({
  id: z.guid(),
  url: z.url(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  description: z.string().nullable(),
  enabled: z.boolean().meta({ description: 'False once the server disabled it: WEBHOOK_DISABLE_AFTER_FAILURES deliveries in a row given up, or the receiver answered 410 Gone' }),
  disabled_reason: z.string().nullable().meta({ description: 'Why the server disabled it; null while enabled' }),
  created_at: timestamp
}).meta({ id: 'WebhookEndpoint' })

export type WebhookEndpointDTO = z.infer<typeof WebhookEndpointSchema>

/** GET /api/webhooks: the caller's endpoints, oldest first. */
export const WebhookEndpointListSchema = z.array(WebhookEndpointSchema)

/** The answer to POST /api/webhooks: the only time the signing secret is shown. */
export const CreatedWebhookSchema = WebhookEndpointSchema.extend({
  secret: z.string().meta({ description: 'The Standard Webhooks signing secret (`whsec_…`): shown this once, never again' })
})

export type CreatedWebhookDTO = z.infer<typeof CreatedWebhookSchema>

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const
export type WebhookDeliveryStatus = typeof WEBHOOK_DELIVERY_STATUSES[number]

export const WebhookDeliverySchema = z.object({
  id: z.string().meta({ description: 'The message id (`msg_…`), sent as the `webhook-id` header; a redelivery keeps it' }),
  event: z.enum(WEBHOOK_MESSAGE_TYPES),
  status: z.enum(WEBHOOK_DELIVERY_STATUSES).meta({ description: 'pending: queued or between retries; failed: given up after WEBHOOK_MAX_ATTEMPTS, or the endpoint was disabled' }),
  attempts: z.int().min(0),
  status_code: z.int().nullable().meta({ description: 'The receiver\'s HTTP status on the last attempt' }),
  latency_ms: z.int().nullable().meta({ description: 'How long the last attempt took' }),
  error: z.string().nullable().meta({ description: 'Why the last attempt failed' }),
  created_at: timestamp,
  delivered_at: timestamp.nullable(),
  next_attempt_at: timestamp.nullable().meta({ description: 'When the next attempt is due, while pending' })
}).meta({ id: 'WebhookDelivery' })

export type WebhookDeliveryDTO = z.infer<typeof WebhookDeliverySchema>

/** GET /api/webhooks/{id}/deliveries: the endpoint's most recent deliveries, newest first. */
export const WebhookDeliveryListSchema = z.array(WebhookDeliverySchema)

/** `data` of export.* events: the export as the API shows it, without the presigned URL, plus the signed app link. */
export type WebhookExportData = Omit<ExportJobDTO, 'download_url' | 'expires_at' | 'queue_position' | 'progress' | 'manifest_url'> & {
  download_link: string | null
  download_link_expires_at: string | null
  schedule_name: string | null
}

/** `data` of schedule.paused: the schedule as the API shows it, why it paused, and where to resume it. */
export type SchedulePausedData = ScheduleDTO & {
  /** Its failed runs in a row (SCHEDULES_DISABLE_AFTER_FAILURES). */
  failures: number
  /** The last failed run's error message. */
  last_error: string | null
  schedules_link: string
}

/** The body of every delivery, per Standard Webhooks. */
export interface WebhookPayload<T = unknown> {
  type: WebhookMessageType
  timestamp: string
  data: T
}
