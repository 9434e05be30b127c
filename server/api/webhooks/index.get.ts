import { listEndpoints } from '#server/lib/notifications/webhooks/endpoints'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db } = await useAppContext()
  return listEndpoints(db, user.id)
})
