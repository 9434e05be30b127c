import { deleteEndpoint } from '#server/lib/notifications/webhooks/endpoints'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { db } = await useAppContext()
  await deleteEndpoint(db, user.id, getRouterParam(event, 'id'))
  setResponseStatus(event, 204)
  return null
})
