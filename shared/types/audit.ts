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

/** The kinds of action, by the part of their name before the dot: the Activity page's filter offers these. */
export const AUDIT_GROUPS = {
  export: 'Exports',
  session: 'Sign-ins',
  token: 'API tokens',
  schedule: 'Schedules',
  destination: 'Destinations',
  webhook: 'Webhooks',
  notifications: 'Notification settings',
  telegram: 'Telegram'
} as const satisfies Record<string, string>

export type AuditGroup = keyof typeof AUDIT_GROUPS

/** The objects an event can name, resolved to their names when the events are read. */
export const AUDIT_SUBJECT_KINDS = ['export', 'dataset', 'schedule', 'token', 'destination'] as const
export type AuditSubjectKind = typeof AUDIT_SUBJECT_KINDS[number]

export const AuditSubjectSchema = z.object({
  kind: z.enum(AUDIT_SUBJECT_KINDS),
  id: z.string(),
  name: z.string().meta({ description: 'Its name now (an export: its dataset and format); once the object is gone, the name recorded with the event or a short id' }),
  exists: z.boolean().meta({ description: 'False once the object was deleted: there is nothing to link to' })
}).meta({ id: 'AuditSubject' })

export type AuditSubjectDTO = z.infer<typeof AuditSubjectSchema>

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
  subjects: z.array(AuditSubjectSchema).meta({ description: 'The export, dataset, schedule, API token or destination the event names, with their names (the caller\'s own objects only)' }),
  created_at: timestamp
}).meta({ id: 'AuditEvent' })

export type AuditEventDTO = z.infer<typeof AuditEventSchema>

/** GET /api/audit: a page of the caller's events, newest first. */
export const AuditEventListSchema = z.object({
  events: z.array(AuditEventSchema),
  next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' })
})

const AUDIT_GROUP_IDS = Object.keys(AUDIT_GROUPS) as AuditGroup[]

/** `action=export,token.revoked`: action names and groups (the part before the dot), as the set of actions they cover. */
const actionFilter = z.string().max(1000).transform((value, ctx) => {
  const names = [...new Set(value.split(',').map(s => s.trim()).filter(Boolean))]
  const unknown = names.filter(name => !(name in AUDIT_ACTIONS) && !(name in AUDIT_GROUPS))
  if (!names.length || unknown.length) {
    ctx.addIssue({ code: 'custom', message: `${unknown.length ? `Unknown event: ${unknown.join(', ')}. ` : ''}Use a comma-separated list of event names (e.g. export.downloaded) or groups: ${AUDIT_GROUP_IDS.join(', ')}` })
    return z.NEVER
  }
  return [...new Set(names.flatMap(name => name in AUDIT_GROUPS ? AUDIT_ACTION_IDS.filter(action => action.startsWith(`${name}.`)) : [name as AuditAction]))]
})

export const ListAuditQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional(),
  action: actionFilter.optional().meta({ description: 'Only these events: a comma-separated list of event names (`export.downloaded`) and groups (`export`, `session`, `token`, `schedule`, `destination`, `webhook`, `notifications`, `telegram`)' })
})

export type ListAuditQuery = z.output<typeof ListAuditQuerySchema>
