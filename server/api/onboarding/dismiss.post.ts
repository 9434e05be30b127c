import { dismissOnboarding } from '#server/lib/onboarding'

/** Closes the caller's "Get started" card: a choice made in the app, so a session only. */
export default defineEventHandler(async (event) => {
  const user = await requireSessionUser(event)
  const { db } = await useAppContext()
  await dismissOnboarding(db, user.id)
  setResponseStatus(event, 204)
  return null
})
