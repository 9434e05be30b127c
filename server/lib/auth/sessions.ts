import type { SessionUser } from '#shared/types/auth'
import { isUuid } from '#shared/utils/uuid'
import type { Db } from '../db/client'

/**
 * Server-side sessions. The sealed cookie only carries a session id; a session is live while its
 * row is not revoked, not expired and its user not disabled, so signing out (one session or all of
 * a user's), disabling and deleting a user take effect at once, whatever cookies were saved.
 */

export interface StartedSession { id: string, expiresAt: Date }

export async function startSession(db: Db, userId: string, maxAgeHours: number): Promise<StartedSession> {
  // Rows that can never be live again are only clutter: each sign-in sweeps its user's.
  await db.session.deleteMany({ where: { userId, OR: [{ expiresAt: { lte: new Date() } }, { revokedAt: { not: null } }] } })
  const expiresAt = new Date(Date.now() + maxAgeHours * 3600_000)
  const row = await db.session.create({ data: { userId, expiresAt }, select: { id: true } })
  return { id: row.id, expiresAt }
}

/** The session's user while the session is live, else null. One prepared statement (every request). */
export async function findSessionUser(db: Db, sessionId: unknown): Promise<SessionUser | null> {
  if (!isUuid(sessionId)) return null
  const { rows: [row] } = await db.pool.query<SessionUser>({
    name: 'outport_session_user',
    text: `SELECT u.id, u.email, u.display_name
      FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL`,
    values: [sessionId]
  })
  return row ?? null
}

/** Signs one session out (a no-op for an unknown or already ended one). */
export async function endSession(db: Db, sessionId: unknown): Promise<void> {
  if (!isUuid(sessionId)) return
  await db.session.updateMany({ where: { id: sessionId, revokedAt: null }, data: { revokedAt: new Date() } })
}

/** Signs the user out everywhere; answers how many live sessions ended. */
export async function endAllSessions(db: Db, userId: string): Promise<number> {
  const { count } = await db.session.updateMany({
    where: { userId, revokedAt: null, expiresAt: { gt: new Date() } },
    data: { revokedAt: new Date() }
  })
  return count
}

/** Which of the given sessions are still live: one query for every open event stream's session. */
export async function liveSessionIds(db: Db, sessionIds: string[]): Promise<Set<string>> {
  const { rows } = await db.pool.query<{ id: string }>({
    name: 'outport_live_sessions',
    text: `SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.id = ANY($1::uuid[]) AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL`,
    values: [sessionIds.filter(id => isUuid(id))]
  })
  return new Set(rows.map(r => r.id))
}
