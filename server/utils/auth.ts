import type { H3Event } from 'h3'
import type { SessionUser } from '#shared/types/auth'
import { findUserByToken } from '../lib/auth/tokens'

/**
 * The caller: an `Authorization: Bearer <token>` API token, else the sealed cookie session.
 * A request that presents a bearer token is judged by that token alone.
 */
export async function requireUser(event: H3Event): Promise<SessionUser> {
  if (event.context.user) return event.context.user as SessionUser
  const header = getHeader(event, 'authorization')
  let user: SessionUser | undefined
  if (header) {
    const token = /^Bearer[ \t]+(\S+)\s*$/i.exec(header)?.[1]
    const { db } = await useAppContext()
    const found = token ? await findUserByToken(db, token) : null
    if (!found) throw createError({ statusCode: 401, message: 'Invalid or revoked API token' })
    user = { id: found.id, email: found.email, display_name: found.displayName }
  } else {
    const session = await getUserSession(event)
    user = session.user
  }
  if (!user) throw createError({ statusCode: 401, message: 'Sign in or send an API token (Authorization: Bearer <token>)' })
  event.context.user = user
  return user
}
