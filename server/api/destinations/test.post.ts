import { testDestination } from '#server/lib/destinations/test'
import { CreateDestinationSchema } from '#shared/types/destinations'

/** Tests a destination before it is saved (the same body as creating one); nothing is stored. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'destinations:write' })
  const body = await readValidatedBody(event, parseWith(CreateDestinationSchema))
  const { db, config } = await useAppContext()
  await (await useDestinationTestLimit()).take(user.id)
  const result = await testDestination(db, user.id, body, { allowHosts: config.WEBHOOK_ALLOW_HOSTS, stsEndpoint: config.DESTINATIONS_STS_ENDPOINT })
  await audit(event, 'destination.tested', { details: { name: body.name, type: body.type, saved: false, ok: result.ok } })
  return result
})
