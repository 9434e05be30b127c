import { createHash, randomBytes } from 'node:crypto'
import type { Db } from '../db/client'
import { RequestError } from '../validation'
import { DEFAULT_TOKEN_SCOPES, TOKEN_SCOPE_IDS, type ApiTokenDTO, type TokenScope } from '#shared/types/tokens'
import { isUuid } from '#shared/utils/uuid'

/**
 * Personal API tokens. Only a SHA-256 of the secret is stored: the secret has 256 bits of entropy,
 * so a slow hash would add latency to every API call without adding safety. The first characters
 * are kept in clear as the token's prefix: 8 of its 43 random characters, 48 bits, which tell a
 * user's tokens apart and leave 210 unknown bits.
 */

const PREFIX = 'otp_'
const TOKEN_SHAPE = /^otp_[A-Za-z0-9_-]{43}$/
const SHOWN_PREFIX_LENGTH = PREFIX.length + 8

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

export interface CreateTokenOptions {
  /** Null or absent: never expires. */
  expiresInDays?: number | null
  /** Refuse (400) when the user already has this many usable tokens; absent: no limit (the CLI). */
  maxPerUser?: number
  /** What the token may do; DEFAULT_TOKEN_SCOPES when absent. */
  scopes?: readonly TokenScope[]
}

export interface CreatedToken { id: string, token: string, dto: ApiTokenDTO }

export async function createApiToken(db: Db, userId: string, name: string, opts: CreateTokenOptions = {}): Promise<CreatedToken> {
  const token = PREFIX + randomBytes(32).toString('base64url')
  const expiresAt = opts.expiresInDays ? new Date(Date.now() + opts.expiresInDays * 86_400_000) : null
  const row = await db.$transaction(async (tx) => {
    if (opts.maxPerUser !== undefined) {
      // One user's creations one at a time, so two concurrent requests cannot both pass the limit.
      await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended(${`outport:tokens:${userId}`}, 0))`
      const held = await tx.apiToken.count({ where: { userId, ...usable() } })
      if (held >= opts.maxPerUser) {
        throw new RequestError(400, `You already have ${held} API tokens (the limit is ${opts.maxPerUser}). Revoke one you no longer use, then try again.`, {
          data: { errors: [{ field: 'name', message: `At most ${opts.maxPerUser} API tokens` }] }
        })
      }
    }
    return tx.apiToken.create({ data: { userId, name, tokenHash: hashToken(token), prefix: token.slice(0, SHOWN_PREFIX_LENGTH), expiresAt, scopes: [...opts.scopes ?? DEFAULT_TOKEN_SCOPES] } })
  })
  return { id: row.id, token, dto: toApiTokenDTO(row) }
}

/** Not revoked and not expired: the tokens that authenticate (and count against the limit). */
function usable() {
  return { revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] }
}

/** The user's tokens that were not revoked (expired ones included, marked), newest first. */
export async function listApiTokens(db: Db, userId: string): Promise<ApiTokenDTO[]> {
  const rows = await db.apiToken.findMany({ where: { userId, revokedAt: null }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] })
  return rows.map(toApiTokenDTO)
}

/** Revokes the user's token at once; null for an unknown, already revoked or another user's token. */
export async function revokeApiToken(db: Db, userId: string, tokenId: unknown): Promise<ApiTokenDTO | null> {
  if (!isUuid(tokenId)) return null
  const id = tokenId.toLowerCase()
  const { count } = await db.apiToken.updateMany({ where: { id, userId, revokedAt: null }, data: { revokedAt: new Date() } })
  if (count !== 1) return null
  const row = await db.apiToken.findUnique({ where: { id } })
  return row ? toApiTokenDTO(row) : null
}

/**
 * Refuses (403, naming the scope) a token minted without `needed`. `granted` is null for a browser
 * session, which may do everything its user may.
 */
export function requireScope(granted: readonly TokenScope[] | null, needed: TokenScope): void {
  if (granted === null || granted.includes(needed)) return
  throw new RequestError(403, `This API token lacks the ${needed} scope: create a token with it (Settings → API tokens) or use the app`, {
    data: { required_scope: needed }
  })
}

/** The stored scopes that this server knows, in their canonical order. */
function knownScopes(stored: readonly string[]): TokenScope[] {
  return TOKEN_SCOPE_IDS.filter(scope => stored.includes(scope))
}

function toApiTokenDTO(row: { id: string, name: string, prefix: string | null, createdAt: Date, lastUsedAt: Date | null, expiresAt: Date | null, scopes: string[] }): ApiTokenDTO {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    created_at: row.createdAt.toISOString(),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    expires_at: row.expiresAt?.toISOString() ?? null,
    expired: row.expiresAt !== null && row.expiresAt.getTime() <= Date.now(),
    scopes: knownScopes(row.scopes)
  }
}

/** The token's user (and the token's id and scopes), or null for a malformed, unknown, revoked or expired token, or a disabled user's. */
export async function findUserByToken(db: Db, token: string) {
  if (!TOKEN_SHAPE.test(token)) return null
  // On every API call: one prepared statement on the pool, not a Prisma query (see db/client.ts).
  const { rows: [row] } = await db.pool.query<{ token_id: string, last_used_at: Date | null, scopes: string[], id: string, email: string, display_name: string }>({
    name: 'outport_token_user',
    text: `SELECT t.id AS token_id, t.last_used_at, t.scopes, u.id, u.email, u.display_name
      FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
        AND u.disabled_at IS NULL`,
    values: [hashToken(token)]
  })
  if (!row) return null
  // last_used_at is informational: refreshed at most once a minute to keep hot API paths write-free,
  // and never awaited, so a failed write cannot fail the request it describes.
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
    db.apiToken.update({ where: { id: row.token_id }, data: { lastUsedAt: new Date() } })
      .catch((error: Error) => console.warn(`[outport] could not record a token's last use: ${error.message}`))
  }
  return { id: row.id, email: row.email, displayName: row.display_name, tokenId: row.token_id, scopes: knownScopes(row.scopes) }
}

/** Which of the given tokens (by id) still authenticate: one query for every open event stream's token. */
export async function liveTokenIds(db: Db, tokenIds: string[]): Promise<Set<string>> {
  const { rows } = await db.pool.query<{ id: string }>({
    name: 'outport_live_tokens',
    text: `SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.id = ANY($1::uuid[]) AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
        AND u.disabled_at IS NULL`,
    values: [tokenIds.filter(id => isUuid(id))]
  })
  return new Set(rows.map(r => r.id))
}
