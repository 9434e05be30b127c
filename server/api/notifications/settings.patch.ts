import { settingsChanges, settingsOptions, updateNotificationSettings } from '#server/lib/notifications/settings'
import { UpdateNotificationSettingsSchema } from '#shared/types/notifications'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'webhooks:write' })
  const patch = await readValidatedBody(event, parseWith(UpdateNotificationSettingsSchema))
  const { db, config } = await useAppContext()
  const settings = await updateNotificationSettings(db, user, patch, settingsOptions(config))
  const changes = settingsChanges(patch)
  if (changes.length) {
    await audit(event, 'notifications.updated', { details: { changes } })
    // A new Slack URL is not told of itself: it may be the one an intruder pasted.
    ;(await useNotifications()).accountChanged(user.id, { what: `Your notification settings were changed: ${changes.join('; ')}`, about: patch.slack?.webhook_url ? 'slack' : undefined })
  }
  return settings
})
