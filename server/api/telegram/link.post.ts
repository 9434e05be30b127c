import { createLinkCode } from '#server/lib/telegram/linking'

/** A one-time code (15 minutes) and the t.me deep link that sends `/start <code>` to the bot. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'webhooks:write' })
  const telegram = await useTelegram()
  if (!telegram) throw createError({ statusCode: 404, message: 'Telegram is not enabled on this server' })
  const username = await telegram.username().catch(() => {
    throw createError({ statusCode: 503, message: 'Telegram could not be reached; please try again in a minute' })
  })
  const { code, expiresAt } = await createLinkCode(telegram.db, user.id)
  // The chat that redeems it is linked by the bot (telegram.linked); this says which token asked.
  await audit(event, 'telegram.link_code_created', { details: { expires_at: expiresAt.toISOString() } })
  setResponseStatus(event, 201)
  return {
    code,
    deep_link: `https://t.me/${username}?start=${code}`,
    bot_username: username,
    expires_at: expiresAt.toISOString()
  }
})
