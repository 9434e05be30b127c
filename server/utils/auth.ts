import type { H3Event } from 'h3'
import type { SessionUser } from '#shared/types/auth'
import { findSessionUser } from '../lib/auth/sessions'
import { findUserByToken } from '../lib/auth/tokens'

/**
 * The caller: an `Authorization: Bearer <token>` API token, else the sealed cookie session, which
 * counts only while its server-side session is live (not signed out, not expired, user not
 * disabled). A request that presents a bearer token is judged by that token alone.
 */
export async function requireUser(event: H3Event): Promise<SessionUser> {
  if (event.context.user) return event.context.user as SessionUser
  const header = getHeader(event, 'authorization')
  let user: SessionUser | null
  if (header) {
    const token = /^Bearer[ \t]+(\S+)\s*$/i.exec(header)?.[1]
    const found = token ? await findUserByToken((await useAppContext()).db, token) : null
    if (!found) throw createError({ statusCode: 401, message: 'Invalid or revoked API token' })
    user = { id: found.id, email: found.email, display_name: found.displayName }
  } else {
    const session = await getUserSession(event)
    user = session.secure ? await findSessionUser((await useAppContext()).db, session.secure.sessionId) : null
  }
  if (!user) throw createError({ statusCode: 401, message: 'Sign in or send an API token (Authorization: Bearer <token>)' })
  event.context.user = user
  return user
}
