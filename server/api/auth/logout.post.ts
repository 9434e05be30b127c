// Ends this session server-side (the `clear` hook in server/plugins/sessions.ts), so a copy of the
// cookie saved before is refused afterwards, and removes the cookie.
export default defineEventHandler(async (event) => {
  await clearUserSession(event)
  return { ok: true }
})
