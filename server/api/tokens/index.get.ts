import { listApiTokens } from '#server/lib/auth/tokens'

/** The signed-in user's API tokens that were not revoked (expired ones marked), newest first. */
export default defineEventHandler(async (event) => {
  const user = await requireSessionUser(event)
  const { db } = await useAppContext()
  setHeader(event, 'cache-control', 'no-store')
  return { tokens: await listApiTokens(db, user.id) }
})
