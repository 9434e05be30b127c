import type { H3Event } from 'h3'
import type { SessionUser } from '#shared/types/auth'
import type { TokenScope } from '#shared/types/tokens'
import { findSessionUser } from '../lib/auth/sessions'
import { findUserByToken, requireScope } from '../lib/auth/tokens'

const BEARER_SCHEME = /^Bearer(?:[ \t]|$)/i
const BEARER_TOKEN = /^Bearer[ \t]+(\S+)\s*$/i

/**
 * The caller: an `Authorization: Bearer <token>` API token, else the sealed cookie session, which
 * counts only while its server-side session is live (not signed out, not expired, user not
 * disabled). A request that presents a bearer token is judged by that token alone; other schemes
 * (Basic, Negotiate: a browser may add those by itself behind an SSO proxy) are not tokens, and
 * such a request is judged by its cookie.
 *
 * `scope`: what the route does, in TOKEN_SCOPES' terms; a token minted without it gets 403 naming
 * it. A session has every scope. The route's entry in server/lib/openapi/operations.ts names the
 * same scope (tests/unit/openapi.test.ts compares them).
 */
export async function requireUser(event: H3Event, opts: { scope?: TokenScope } = {}): Promise<SessionUser> {
  const user = (event.context.user as SessionUser | undefined) ?? await authenticate(event)
  if (opts.scope) requireScope(event.context.apiTokenId ? event.context.apiTokenScopes as TokenScope[] : null, opts.scope)
  return user
}

async function authenticate(event: H3Event): Promise<SessionUser> {
  let user: SessionUser | null
  if (presentsBearer(event)) {
    user = await bearerUser(event)
    if (!user) throw createError({ statusCode: 401, message: 'Invalid or revoked API token' })
  } else {
    const session = await getUserSession(event)
    user = session.secure ? await findSessionUser((await useAppContext()).db, session.secure.sessionId) : null
  }
  if (!user) throw createError({ statusCode: 401, message: 'Sign in or send an API token (Authorization: Bearer <token>)' })
  event.context.user = user
  return user
}

/**
 * The caller, signed in with the cookie session: what only a person at the app may do (managing
 * API tokens). A valid API token gets 403, so a leaked token cannot mint itself successors or
 * revoke its owner's other tokens; an invalid one 401 as everywhere.
 */
export async function requireSessionUser(event: H3Event): Promise<SessionUser> {
  const user = await requireUser(event)
  if (event.context.apiTokenId) throw createError({ statusCode: 403, message: 'API tokens cannot manage API tokens: sign in to the app to do this' })
  return user
}

/** Whether the request uses the Bearer scheme (with or without a usable token). */
export function presentsBearer(event: H3Event): boolean {
  const header = getHeader(event, 'authorization')
  return header !== undefined && BEARER_SCHEME.test(header)
}

/** The user of the request's bearer token, or null without one or for an unknown/revoked token. */
export async function bearerUser(event: H3Event): Promise<SessionUser | null> {
  const token = BEARER_TOKEN.exec(getHeader(event, 'authorization') ?? '')?.[1]
  if (!token) return null
  const found = await findUserByToken((await useAppContext()).db, token)
  if (!found) return null
  const user = { id: found.id, email: found.email, display_name: found.displayName }
  event.context.user = user
  // Marks the request as token-authenticated: requireSessionUser(), requireUser()'s scope check
  // and the audit trail read it.
  event.context.apiTokenId = found.tokenId
  event.context.apiTokenScopes = found.scopes
  return user
}
