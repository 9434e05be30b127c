import { sendTest } from '#server/lib/notifications/webhooks/endpoints'

/** 202: a `ping` is queued; its outcome shows in the endpoint's deliveries. 429/409 past the limits on manual sends. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'webhooks:write' })
  const { db } = await useAppContext()
  const { webhooks } = await useNotifications()
  const delivery = await sendTest(db, user.id, getRouterParam(event, 'id'), webhooks.manualSends)
  webhooks.deliverer.wake()
  setResponseStatus(event, 202)
  return delivery
})
