import { endAllSessions } from '#server/lib/auth/sessions'

// "Sign out everywhere": every session of the caller ends, this one included. API tokens are not
// sessions and keep working (they are revoked one by one).
export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const ended = await endAllSessions((await useAppContext()).db, user.id)
  await clearUserSession(event)
  await audit(event, 'session.signed_out', { details: { everywhere: true, sessions_ended: ended } })
  return { ok: true, sessions_ended: ended }
})
