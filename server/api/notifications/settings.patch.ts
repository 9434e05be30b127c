import { settingsChanges, settingsOptions, updateNotificationSettings } from '#server/lib/notifications/settings'
import { UpdateNotificationSettingsSchema } from '#shared/types/notifications'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'webhooks:write' })
  const patch = await readValidatedBody(event, parseWith(UpdateNotificationSettingsSchema))
  const { db, config } = await useAppContext()
  const settings = await updateNotificationSettings(db, user, patch, settingsOptions(config))
  const { changes, channels } = settingsChanges(patch)
  if (changes.length) {
    await audit(event, 'notifications.updated', { details: { changes } })
    ;(await useNotifications()).accountChanged(user.id, { what: `Your notification settings were changed: ${changes.join('; ')}`, about: channels })
  }
  return settings
})
