import type { Db } from './db/client'
import type { LogFn } from './log'
import type { Prisma } from '../generated/prisma/client'
import type { AuditAction, AuditEventDTO } from '#shared/types/audit'
import { isUuid } from '#shared/utils/uuid'
import { withSubjects } from './audit-subjects'

/**
 * The audit trail (`audit_events`): append-only, one row per security-relevant action. This module
 * is the only code that writes or reads the table.
 *
 * Writing an event never fails the action it describes (the export was created, the user signed
 * in, whatever the audit table says), and a failed write is never silent either: it is logged and
 * counted, and every listener registered with onAuditWriteFailed() is told
 * (server/plugins/audit.ts feeds outport_audit_write_failures_total from there, so the Telegram
 * bot's writes are counted as well as the requests').
 */

export interface AuditEvent {
  userId: string
  /** The API token the request authenticated with; null for a cookie session or no request. */
  tokenId?: string | null
  action: AuditAction
  objectId?: string | null
  /** Null when no HTTP request caused it (the Telegram bot). */
  ip?: string | null
  userAgent?: string | null
  details?: Record<string, unknown> | null
}

export type AuditWriteFailedListener = (error: unknown, event: AuditEvent) => void

const listeners = new Set<AuditWriteFailedListener>()
let failures = 0

/** Called on every failed write; returns the unsubscribe function. */
export function onAuditWriteFailed(listener: AuditWriteFailedListener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

/** How many audit writes failed in this process since it started. */
export function auditWriteFailures(): number {
  return failures
}

// User agents are free text from the client: keep them bounded.
const MAX_USER_AGENT = 512

/** Appends the event; false (logged, counted, listeners told) if it could not be written. Never throws. */
export async function recordAuditEvent(
  db: Pick<Db, 'auditEvent'>,
  event: AuditEvent,
  opts: { log?: LogFn } = {}
): Promise<boolean> {
  try {
    await db.auditEvent.create({
      data: {
        userId: event.userId,
        tokenId: event.tokenId ?? null,
        action: event.action,
        objectId: event.objectId ?? null,
        ip: event.ip ?? null,
        userAgent: event.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
        details: (event.details ?? undefined) as Prisma.InputJsonObject | undefined
      }
    })
    return true
  } catch (error) {
    failures++
    const log: LogFn = opts.log ?? (line => console.error(line))
    log(`audit: could not record ${event.action} for user ${event.userId}${event.objectId ? ` (${event.objectId})` : ''}: ${(error as Error)?.message ?? String(error)}`, {
      level: 'error',
      component: 'audit',
      user_id: event.userId,
      action: event.action,
      ...(event.objectId && { object_id: event.objectId })
    })
    for (const listener of listeners) {
      try {
        listener(error, event)
      } catch {
        // A broken listener must not turn into a failed request either.
      }
    }
    return false
  }
}

export interface AuditPage { events: AuditEventDTO[], nextCursor: string | null }

/**
 * The user's own events, newest first, a page at a time (keyset over created_at, id), only the
 * `actions` given if any, each with the objects it names; null for a bad cursor.
 */
export async function listAuditEvents(db: Db, userId: string, opts: { limit: number, cursor?: string, actions?: AuditAction[] }): Promise<AuditPage | null> {
  const after = opts.cursor ? decodeCursor(opts.cursor) : undefined
  if (after === null) return null
  const rows = await db.auditEvent.findMany({
    where: {
      userId,
      ...(opts.actions && { action: { in: opts.actions } }),
      ...(after && { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] })
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: opts.limit + 1
  })
  const page = rows.slice(0, opts.limit)
  const last = page.at(-1)
  return {
    events: await withSubjects(db, userId, page.map(row => ({
      id: row.id,
      action: row.action as AuditAction,
      object_id: row.objectId,
      token_id: row.tokenId,
      ip: row.ip,
      user_agent: row.userAgent,
      details: (row.details as Record<string, unknown> | null) ?? null,
      created_at: row.createdAt.toISOString()
    }))),
    nextCursor: rows.length > opts.limit && last ? encodeCursor(last.createdAt, last.id) : null
  }
}

/**
 * Deletes events older than the retention period, in batches so one sweep never holds a long lock
 * on a large table. Returns how many were deleted.
 */
export async function expireAuditEvents(db: Db, retentionDays: number, now = new Date(), batchSize = 5000): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000)
  let total = 0
  for (;;) {
    const deleted = await db.$executeRaw`
      DELETE FROM audit_events WHERE id IN (
        SELECT id FROM audit_events WHERE created_at < ${cutoff} LIMIT ${batchSize}
      )`
    total += deleted
    if (deleted < batchSize) return total
  }
}

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url')
}

function decodeCursor(cursor: string): { createdAt: Date, id: string } | null {
  const [iso, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  const createdAt = new Date(iso ?? '')
  if (!isUuid(id) || Number.isNaN(createdAt.getTime())) return null
  return { createdAt, id }
}
