import { z } from 'zod'

/** The audit trail: what a user (or one of their API tokens) did, as the Activity page shows it. */

export const AUDIT_ACTIONS = {
  'export.created': 'Export started',
  'export.cancelled': 'Export cancelled',
  'export.deleted': 'Export deleted',
  'export.downloaded': 'Export downloaded',
  'token.created': 'API token created',
  'token.revoked': 'API token revoked',
  'telegram.link_code_created': 'Telegram link code created',
  'telegram.linked': 'Telegram connected',
  'telegram.unlinked': 'Telegram disconnected',
  'webhook.created': 'Webhook added',
  'webhook.deleted': 'Webhook removed',
  'notifications.updated': 'Notification settings changed',
  'schedule.watermark_reset': 'Schedule watermark reset',
  'schedule.backfill_created': 'Schedule backfill started',
  'schedule.backfill_cancelled': 'Schedule backfill cancelled',
  'destination.created': 'Destination added',
  'destination.updated': 'Destination changed',
  'destination.deleted': 'Destination removed',
  'destination.tested': 'Destination tested',
  'export.delivered': 'Export delivered to a destination',
  'export.delivery_failed': 'Export delivery failed',
  'session.signed_in': 'Signed in',
  'session.sign_in_failed': 'Sign-in failed',
  'session.signed_out': 'Signed out'
} as const

export type AuditAction = keyof typeof AUDIT_ACTIONS

/** Every action name, for the schema. */
export const AUDIT_ACTION_IDS = Object.keys(AUDIT_ACTIONS) as [AuditAction, ...AuditAction[]]

const timestamp = z.iso.datetime()

export const AuditEventSchema = z.object({
  id: z.guid(),
  action: z.enum(AUDIT_ACTION_IDS),
  /** The export, token, session or webhook the event is about. */
  object_id: z.string().nullable().meta({ description: 'The export, token, session or webhook endpoint the event is about' }),
  /** Set when the request authenticated with an API token (its id), null for the cookie session. */
  token_id: z.guid().nullable().meta({ description: 'The API token the request authenticated with; null for the cookie session or no request (the Telegram bot)' }),
  ip: z.string().nullable().meta({ description: 'The client\'s address (TRUST_PROXY honoured); null when no HTTP request caused the event' }),
  user_agent: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable().meta({ description: 'What the action concerned, by action: e.g. `dataset_id`, a token\'s `name` and `prefix`' }),
  created_at: timestamp
}).meta({ id: 'AuditEvent' })

export type AuditEventDTO = z.infer<typeof AuditEventSchema>

/** GET /api/audit: a page of the caller's events, newest first. */
export const AuditEventListSchema = z.object({
  events: z.array(AuditEventSchema),
  next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' })
})

export const ListAuditQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional()
})
