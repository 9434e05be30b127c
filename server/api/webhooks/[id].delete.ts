import { deleteEndpoint, endpointHost } from '#server/lib/notifications/webhooks/endpoints'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'webhooks:write' })
  const { db } = await useAppContext()
  const deleted = await deleteEndpoint(db, user.id, getRouterParam(event, 'id'))
  const host = endpointHost(deleted.url)
  await audit(event, 'webhook.deleted', { objectId: deleted.id, details: { host } })
  ;(await useNotifications()).accountChanged(user.id, { what: `The webhook to ${host} was removed from your account`, about: ['webhook'] })
  setResponseStatus(event, 204)
  return null
})
