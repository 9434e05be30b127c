// Ends this session server-side (the `clear` hook in server/plugins/sessions.ts), so a copy of the
// cookie saved before is refused afterwards, and removes the cookie.
export default defineEventHandler(async (event) => {
  // Signing out without a live session is still a successful no-op; only a real one is recorded.
  const user = await requireUser(event).catch(() => null)
  const sessionId = (await getUserSession(event)).secure?.sessionId
  await clearUserSession(event)
  if (user) await audit(event, 'session.signed_out', { objectId: sessionId ?? null })
  return { ok: true }
})
