import { createHash, randomBytes } from 'node:crypto'
import type { Db } from '../db/client'

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

/** The token's user, or null for a malformed, unknown or revoked token, or a disabled user's. */
export async function findUserByToken(db: Db, token: string) {
  if (!TOKEN_SHAPE.test(token)) return null
  // On every API call: a prepared statement on the pool, not a Prisma query (see db/client.ts).
  const { rows: [row] } = await db.pool.query<{ token_id: string, last_used_at: Date | null, id: string, email: string, display_name: string }>({
    name: 'outport_token_user',
    text: `SELECT t.id AS token_id, t.last_used_at, u.id, u.email, u.display_name
      FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL`,
    values: [hashToken(token)]
  })
  if (!row) return null
  // last_used_at is informational: refreshed at most once a minute to keep hot API paths write-free,
  // and never awaited, so a failed write cannot fail the request it describes.
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
    db.apiToken.update({ where: { id: row.token_id }, data: { lastUsedAt: new Date() } })
      .catch((error: Error) => console.warn(`[outport] could not record a token's last use: ${error.message}`))
  }
  return { id: row.id, email: row.email, displayName: row.display_name }
}
