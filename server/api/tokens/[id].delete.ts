import { revokeApiToken } from '#server/lib/auth/tokens'

/** Revokes one of the signed-in user's tokens: its next request is 401. Another user's is a 404. */
export default defineEventHandler(async (event) => {
  const user = await requireSessionUser(event)
  const { db } = await useAppContext()
  const token = await revokeApiToken(db, user.id, getRouterParam(event, 'id'))
  if (!token) throw createError({ statusCode: 404, message: 'API token not found' })
  await audit(event, 'token.revoked', { objectId: token.id, details: { name: token.name, prefix: token.prefix } })
  return { ...token, revoked: true }
})
