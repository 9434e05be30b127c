import { redeliver } from '#server/lib/notifications/webhooks/endpoints'

/** 202: the delivery is queued again with the same webhook-id and a fresh attempt budget. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'webhooks:write' })
  const { db } = await useAppContext()
  const delivery = await redeliver(db, user.id, getRouterParam(event, 'id'), getRouterParam(event, 'delivery_id'))
  ;(await useNotifications()).webhooks.deliverer.wake()
  setResponseStatus(event, 202)
  return delivery
})
