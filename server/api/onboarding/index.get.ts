import { onboarding } from '#server/lib/onboarding'

/** The "Get started" card: which first steps the caller has taken, and whether they closed it. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db } = await useAppContext()
  const notifications = await useNotifications()
  setHeader(event, 'cache-control', 'no-store')
  return onboarding(db, user.id, { emailConfigured: Boolean(notifications.channel('email')) })
})
