import { getNotificationSettings, settingsOptions } from '#server/lib/notifications/settings'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db, config } = await useAppContext()
  const notifications = await useNotifications()
  return getNotificationSettings(db, user, settingsOptions(config, id => Boolean(notifications.channel(id))))
})
