import { deleteEndpoint } from '../../lib/notifications/webhooks/endpoints'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { db } = await useAppContext()
  try {
    await deleteEndpoint(db, user.id, getRouterParam(event, 'id'))
  } catch (error) {
    throw httpError(error, event)
  }
  setResponseStatus(event, 204)
  return null
})
