import type { H3Event } from 'h3'
import type { SessionUser } from '#shared/types/auth'
import type { AuditAction } from '#shared/types/audit'
import { recordAuditEvent } from '../lib/audit'
import { logFn } from '../lib/log'

/**
 * Records what the request did in the audit trail: its user (or `opts.userId`, for a request with
 * no signed-in user such as the signed download link or a failed sign-in), the API token it
 * authenticated with, its client IP (TRUST_PROXY honoured) and User-Agent. Never throws: a trail
 * that cannot be written is logged and counted (server/lib/audit.ts), and the request goes on.
 */
export async function audit(event: H3Event, action: AuditAction, opts: { objectId?: string | null, details?: Record<string, unknown>, userId?: string } = {}): Promise<void> {
  try {
    const userId = opts.userId ?? (event.context.user as SessionUser | undefined)?.id
    if (!userId) throw new Error(`no user for ${action}`)
    const { db, config } = await useAppContext()
    await recordAuditEvent(db, {
      userId,
      tokenId: (event.context.apiTokenId as string | undefined) ?? null,
      action,
      objectId: opts.objectId ?? null,
      ip: clientIp(event, config.TRUST_PROXY),
      userAgent: getHeader(event, 'user-agent') ?? null,
      details: opts.details ?? null
    }, { log: logFn(useRequestLog(event), 'error') })
  } catch (error) {
    // Only reached before the write (no user, no context): still never silent, and counted like a
    // failed write.
    useRequestLog(event).error({ component: 'audit', action }, `audit: could not record ${action}: ${(error as Error).message}`)
    useMetrics().auditWriteFailed(action)
  }
}
