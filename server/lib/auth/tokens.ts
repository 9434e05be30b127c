import { createHash, randomBytes } from 'node:crypto'
import type { Db } from '../db/client.ts'

/**
 * Personal API tokens. Only a SHA-256 of the secret is stored: the secret has 256 bits of entropy,
 * so a slow hash would add latency to every API call without adding safety.
 */

const PREFIX = 'otp_'
const TOKEN_SHAPE = /^otp_[A-Za-z0-9_-]{43}$/

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

export async function createApiToken(db: Db, userId: string, name: string): Promise<{ id: string, token: string }> {
  const token = PREFIX + randomBytes(32).toString('base64url')
  const row = await db.apiToken.create({ data: { userId, name, tokenHash: hashToken(token) } })
  return { id: row.id, token }
}

/** The token's user, or null for a malformed, unknown or revoked token. */
export async function findUserByToken(db: Db, token: string) {
  if (!TOKEN_SHAPE.test(token)) return null
  const row = await db.apiToken.findUnique({
    where: { tokenHash: hashToken(token) },
    select: { id: true, revokedAt: true, lastUsedAt: true, user: { select: { id: true, email: true, displayName: true } } }
  })
  if (!row || row.revokedAt) return null
  // last_used_at is informational: refresh it at most once a minute to keep hot API paths write-free.
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    await db.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } })
  }
  return row.user
}
