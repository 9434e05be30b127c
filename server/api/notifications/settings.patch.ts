import { settingsOptions, updateNotificationSettings } from '#server/lib/notifications/settings'
import { UpdateNotificationSettingsSchema } from '#shared/types/notifications'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const patch = await readValidatedBody(event, parseWith(UpdateNotificationSettingsSchema))
  const { db, config } = await useAppContext()
  return updateNotificationSettings(db, user, patch, settingsOptions(config))
})
