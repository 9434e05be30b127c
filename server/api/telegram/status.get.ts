export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const telegram = await useTelegram()
  if (!telegram) return { enabled: false, linked: false, bot_username: null }
  const [row, username] = await Promise.all([
    telegram.db.user.findUnique({ where: { id: user.id }, select: { telegramChatId: true } }),
    // The username only decorates the answer: an unreachable Telegram must not fail it.
    telegram.username().catch(() => null)
  ])
  return { enabled: true, linked: row?.telegramChatId != null, bot_username: username }
})
