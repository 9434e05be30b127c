import { z } from 'zod'

/** The audit trail: what a user (or one of their API tokens) did, as the Activity page shows it. */

export const AUDIT_ACTIONS = {
  'export.created': 'Export started',
  'export.cancelled': 'Export cancelled',
  'export.deleted': 'Export deleted',
  'export.downloaded': 'Download link issued',
  'token.created': 'API token created',
  'token.revoked': 'API token revoked',
  'telegram.linked': 'Telegram connected',
  'telegram.unlinked': 'Telegram disconnected',
  'session.signed_in': 'Signed in',
  'session.sign_in_failed': 'Sign-in failed',
  'session.signed_out': 'Signed out'
} as const

export type AuditAction = keyof typeof AUDIT_ACTIONS

export interface AuditEventDTO {
  id: string
  action: AuditAction
  /** The export, token or session the event is about. */
  object_id: string | null
  /** Set when the request authenticated with an API token (its id), null for the cookie session. */
  token_id: string | null
  ip: string | null
  user_agent: string | null
  details: Record<string, unknown> | null
  created_at: string
}

export const ListAuditQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional()
})
