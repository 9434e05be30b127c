import { z } from 'zod'
import type { ExportJobDTO } from './exports'
import type { ScheduleDTO } from './schedules'

/** Notification settings and webhooks, shared by the API and the Notifications page (snake_case). */

export const NOTIFICATION_CHANNELS = ['telegram', 'email', 'webhook'] as const
export type NotificationChannel = typeof NOTIFICATION_CHANNELS[number]

export interface NotificationSettingsDTO {
  telegram: { completed: boolean, failed: boolean }
  /** `address` is the account's email. */
  email: { completed: boolean, failed: boolean, address: string }
}

/** Which channels this server has configured (GET /api/notifications/channels). */
export interface NotificationChannelsDTO { telegram: boolean, email: boolean, webhooks: boolean }

const toggles = z.strictObject({ completed: z.boolean().optional(), failed: z.boolean().optional() })

/** PATCH: any subset of the GET shape; the address is the account's and cannot be changed here. */
export const UpdateNotificationSettingsSchema = z.strictObject({
  telegram: toggles.optional(),
  email: z.strictObject({ completed: z.boolean().optional(), failed: z.boolean().optional(), address: z.string().optional() }).optional()
})
export type UpdateNotificationSettings = z.infer<typeof UpdateNotificationSettingsSchema>

export const WEBHOOK_EVENTS = ['export.completed', 'export.failed', 'schedule.paused'] as const
export type WebhookEvent = typeof WEBHOOK_EVENTS[number]
/** What a delivery can carry: the events a user subscribes to, and the test `ping`. */
export type WebhookMessageType = WebhookEvent | 'ping'

export const CreateWebhookSchema = z.strictObject({
  url: z.string().trim().max(2048, 'At most 2048 characters').pipe(z.url({ protocol: /^https?$/, message: 'Must be an http(s) URL' })),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1, 'Choose at least one event').transform(events => [...new Set(events)]),
  description: z.string().trim().max(200, 'At most 200 characters').nullish()
})
export type CreateWebhook = z.infer<typeof CreateWebhookSchema>

export interface WebhookEndpointDTO {
  id: string
  url: string
  events: WebhookEvent[]
  description: string | null
  enabled: boolean
  disabled_reason: string | null
  created_at: string
}

/** The answer to POST /api/webhooks: the only time the signing secret is shown. */
export interface CreatedWebhookDTO extends WebhookEndpointDTO { secret: string }

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed'

export interface WebhookDeliveryDTO {
  id: string
  event: WebhookMessageType
  status: WebhookDeliveryStatus
  attempts: number
  status_code: number | null
  latency_ms: number | null
  error: string | null
  created_at: string
  delivered_at: string | null
  next_attempt_at: string | null
}

/** `data` of export.* events: the export as the API shows it, without the presigned URL, plus the signed app link. */
export type WebhookExportData = Omit<ExportJobDTO, 'download_url' | 'expires_at' | 'queue_position' | 'progress'> & {
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
