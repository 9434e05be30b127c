import { updateDestination } from '#server/lib/destinations/store'
import { describeTarget } from '#server/lib/destinations/describe'

/** The body is checked against the saved destination's type (UPDATE_DESTINATION_SCHEMAS), so it is read raw here. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'destinations:write' })
  const body = await readBody(event)
  const { db, config } = await useAppContext()
  const { dto, changed } = await updateDestination(db, user.id, getRouterParam(event, 'id'), body ?? {}, config)
  await audit(event, 'destination.updated', { objectId: dto.id, details: { name: dto.name, type: dto.type, target: describeTarget(dto), changed } })
  if (changed.some(c => c !== 'name')) {
    ;(await useNotifications()).accountChanged(user.id, { what: `The destination for exports "${dto.name}" (${describeTarget(dto)}) was changed`, about: [] })
  }
  setHeader(event, 'cache-control', 'no-store')
  return dto
})
