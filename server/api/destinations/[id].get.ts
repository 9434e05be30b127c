import { findDestination, toDestinationDTO } from '#server/lib/destinations/store'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db } = await useAppContext()
  return toDestinationDTO(await findDestination(db, user.id, getRouterParam(event, 'id')))
})
