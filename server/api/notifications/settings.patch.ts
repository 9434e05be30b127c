import { settingsChanges, settingsOptions, updateNotificationSettings } from '#server/lib/notifications/settings'
import { UpdateNotificationSettingsSchema } from '#shared/types/notifications'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'webhooks:write' })
  const patch = await readValidatedBody(event, parseWith(UpdateNotificationSettingsSchema))
  const { db, config } = await useAppContext()
  const notifications = await useNotifications()
  const settings = await updateNotificationSettings(db, user, patch, settingsOptions(config, id => Boolean(notifications.channel(id))))
  const { changes, channels } = settingsChanges(patch)
  if (changes.length) {
    await audit(event, 'notifications.updated', { details: { changes } })
    notifications.accountChanged(user.id, { what: `Your notification settings were changed: ${changes.join('; ')}`, about: channels })
  }
  return settings
})
