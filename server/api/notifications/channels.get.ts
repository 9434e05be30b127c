import { CHANNELS } from '#shared/types/notifications'
import type { NotificationChannelsDTO } from '#shared/types/notifications'

/** Which channels this server has configured, so the settings page can say what is off and why. */
export default defineEventHandler(async (event) => {
  await requireUser(event, { scope: 'exports:read' })
  const notifications = await useNotifications()
  return Object.fromEntries(CHANNELS.map(c => [c.key, Boolean(notifications.channel(c.id))])) as NotificationChannelsDTO
})
