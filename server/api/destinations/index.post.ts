import { createDestination } from '#server/lib/destinations/store'
import { describeTarget } from '#server/lib/destinations/describe'
import { CreateDestinationSchema } from '#shared/types/destinations'

/** 201 with the destination; its credentials are sealed and never shown again. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'destinations:write' })
  const body = await readValidatedBody(event, parseWith(CreateDestinationSchema))
  const { db, config } = await useAppContext()
  const created = await createDestination(db, user.id, body, config)
  const target = describeTarget(created)
  await audit(event, 'destination.created', { objectId: created.id, details: { name: created.name, type: created.type, target, credentials: created.credentials.kind } })
  ;(await useNotifications()).accountChanged(user.id, { what: `A destination for exports (${target}) was added to your account`, about: [] })
  setResponseStatus(event, 201)
  setHeader(event, 'cache-control', 'no-store')
  return created
})
