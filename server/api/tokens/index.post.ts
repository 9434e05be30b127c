import { CreateApiTokenSchema } from '#shared/types/tokens'
import { createApiToken } from '#server/lib/auth/tokens'

/** A new API token for the signed-in user: 201 with the secret, which is never shown again. */
export default defineEventHandler(async (event) => {
  const user = await requireSessionUser(event)
  const body = await readValidatedBody(event, parseWith(CreateApiTokenSchema))
  const { db, config } = await useAppContext()
  const { token, dto } = await createApiToken(db, user.id, body.name, {
    expiresInDays: body.expires_in_days,
    maxPerUser: config.API_TOKENS_MAX_PER_USER,
    scopes: body.scopes
  })
  await audit(event, 'token.created', { objectId: dto.id, details: { name: dto.name, prefix: dto.prefix, expires_at: dto.expires_at, scopes: dto.scopes } })
  setResponseStatus(event, 201)
  setHeader(event, 'cache-control', 'no-store')
  return { ...dto, token }
})
