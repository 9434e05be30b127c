import { dismissOnboarding } from '#server/lib/onboarding'

/** Closes the caller's "Get started" card. It hides a hint and changes no data, so reading is scope enough. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db } = await useAppContext()
  await dismissOnboarding(db, user.id)
  setResponseStatus(event, 204)
  return null
})
