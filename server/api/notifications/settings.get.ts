import { getNotificationSettings } from '../../lib/notifications/settings'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { db } = await useAppContext()
  return getNotificationSettings(db, user)
})
