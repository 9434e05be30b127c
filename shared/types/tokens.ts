import { z } from 'zod'

/** Personal API tokens as the settings page and the API show them (the secret only once, on creation). */

export const TOKEN_MAX_EXPIRY_DAYS = 365

export const CreateApiTokenSchema = z.strictObject({
  name: z.string().trim().min(1, 'Enter a name').max(100, 'At most 100 characters'),
  expires_in_days: z.number('Must be a whole number of days').int('Must be a whole number of days')
    .min(1, 'At least 1 day').max(TOKEN_MAX_EXPIRY_DAYS, `At most ${TOKEN_MAX_EXPIRY_DAYS} days`).nullish()
})

export type CreateApiTokenInput = z.input<typeof CreateApiTokenSchema>

const timestamp = z.iso.datetime()

/** A token as the list shows it: never its secret. */
export const ApiTokenSchema = z.object({
  id: z.guid(),
  name: z.string(),
  /** The first characters of the secret, to tell tokens apart; null for tokens made before prefixes were kept. */
  prefix: z.string().nullable().meta({ description: 'The first characters of the secret (`otp_` and 8 more), to tell tokens apart; null for tokens made before prefixes were kept' }),
  created_at: timestamp,
  last_used_at: timestamp.nullable().meta({ description: 'Refreshed at most once a minute; null: never used' }),
  /** Null: never expires. */
  expires_at: timestamp.nullable().meta({ description: 'Null: never expires' }),
  expired: z.boolean().meta({ description: 'Past `expires_at`: the token answers 401 like a revoked one' })
}).meta({ id: 'ApiToken' })

export type ApiTokenDTO = z.infer<typeof ApiTokenSchema>

/** GET /api/tokens: the tokens that were not revoked (expired ones included), newest first. */
export const ApiTokenListSchema = z.object({ tokens: z.array(ApiTokenSchema) })

/** The answer to creating a token: the only time the secret is shown. */
export const CreatedApiTokenSchema = ApiTokenSchema.extend({
  token: z.string().meta({ description: 'The secret, for `Authorization: Bearer <token>`: shown this once, never again' })
})

export type CreatedApiTokenDTO = z.infer<typeof CreatedApiTokenSchema>

/** The answer to revoking a token. */
export const RevokedApiTokenSchema = ApiTokenSchema.extend({ revoked: z.literal(true) })
