import { deleteDestination } from '#server/lib/destinations/store'
import { describeTarget } from '#server/lib/destinations/describe'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'destinations:write' })
  const { db } = await useAppContext()
  const deleted = await deleteDestination(db, user.id, getRouterParam(event, 'id'))
  await audit(event, 'destination.deleted', { objectId: deleted.id, details: { name: deleted.name, type: deleted.type, target: describeTarget(deleted) } })
  setResponseStatus(event, 204)
  return null
})
