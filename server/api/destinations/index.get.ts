import { listDestinations } from '#server/lib/destinations/store'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db, config } = await useAppContext()
  return { destinations: await listDestinations(db, user.id), max_per_user: config.DESTINATIONS_MAX_PER_USER }
})
