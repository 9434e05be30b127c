/** Which channels this server has configured, so the settings page can say what is off and why. */
export default defineEventHandler(async (event) => {
  await requireUser(event)
  const { config } = await useAppContext()
  return { telegram: Boolean(config.TELEGRAM_BOT_TOKEN), email: Boolean(config.SMTP_URL), webhooks: true }
})
