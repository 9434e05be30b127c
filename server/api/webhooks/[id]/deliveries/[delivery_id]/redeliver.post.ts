import { redeliver } from '#server/lib/notifications/webhooks/endpoints'

/** 202: the delivery is queued again with the same webhook-id and a fresh attempt budget. 429/409 past the limits on manual sends. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'webhooks:write' })
  const { db } = await useAppContext()
  const { webhooks } = await useNotifications()
  const delivery = await redeliver(db, user.id, getRouterParam(event, 'id'), getRouterParam(event, 'delivery_id'), webhooks.manualSends)
  webhooks.deliverer.wake()
  setResponseStatus(event, 202)
  return delivery
})
