import { z } from 'zod'

/** Personal API tokens as the settings page and the API show them (the secret only once, on creation). */

export const TOKEN_MAX_EXPIRY_DAYS = 365

export const CreateApiTokenSchema = z.strictObject({
  name: z.string().trim().min(1, 'Enter a name').max(100, 'At most 100 characters'),
  expires_in_days: z.number('Must be a whole number of days').int('Must be a whole number of days')
    .min(1, 'At least 1 day').max(TOKEN_MAX_EXPIRY_DAYS, `At most ${TOKEN_MAX_EXPIRY_DAYS} days`).nullish()
})

export type CreateApiTokenInput = z.input<typeof CreateApiTokenSchema>

export interface ApiTokenDTO {
  id: string
  name: string
  /** The first characters of the secret, to tell tokens apart; null for tokens made before prefixes were kept. */
  prefix: string | null
  created_at: string
  last_used_at: string | null
  /** Null: never expires. */
  expires_at: string | null
  expired: boolean
}

/** The answer to creating a token: the only time the secret is shown. */
export interface CreatedApiTokenDTO extends ApiTokenDTO { token: string }
