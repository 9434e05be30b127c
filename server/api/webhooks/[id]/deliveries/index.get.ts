import { listDeliveries } from '#server/lib/notifications/webhooks/endpoints'

/** The endpoint's 50 most recent deliveries, newest first. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db } = await useAppContext()
  setHeader(event, 'cache-control', 'no-store')
  return listDeliveries(db, user.id, getRouterParam(event, 'id'))
})
