import type { Db } from './db/client'
import { hashPassword } from './auth/passwords'
import { endAllSessions } from './auth/sessions'

export async function createUser(db: Db, input: { email: string, password: string, displayName?: string }) {
  const email = input.email.trim().toLowerCase()
  return db.user.create({
    data: {
      email,
      passwordHash: await hashPassword(input.password),
      displayName: input.displayName ?? email.split('@')[0]!
    },
    select: { id: true, email: true, displayName: true }
  })
}

/**
 * Disables a user: sign-in is refused and their sessions and API tokens stop working at once (both
 * lookups require `disabled_at IS NULL`); the sessions are also ended. Null for an unknown email.
 */
export async function disableUser(db: Db, email: string) {
  const user = await db.user.findUnique({ where: { email: email.trim().toLowerCase() } })
  if (!user) return null
  const disabled = user.disabledAt ?? (await db.user.update({ where: { id: user.id }, data: { disabledAt: new Date() } })).disabledAt!
  const sessionsEnded = await endAllSessions(db, user.id)
  return { id: user.id, email: user.email, disabledAt: disabled, sessionsEnded }
}
