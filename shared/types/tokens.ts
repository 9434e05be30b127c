import { z } from 'zod'
import { storedText } from './text'

/** Personal API tokens as the settings page and the API show them (the secret only once, on creation). */

export const TOKEN_MAX_EXPIRY_DAYS = 365

/**
 * What an API token may do, chosen when it is minted (as Stripe's restricted keys and GitHub's
 * fine-grained tokens): a route names the scope it needs (requireUser() in server/utils/auth.ts)
 * and answers a token without it 403. The channel scopes are apart so that a leaked token cannot
 * open a way for data to leave (a webhook, a Telegram chat, a Slack URL) unless it was minted for
 * that. A browser session has every scope.
 */
export const TOKEN_SCOPES = {
  'exports:read': 'Read exports, schedules, datasets, settings and activity; download files',
  'exports:write': 'Start, preview, cancel and delete exports',
  'schedules:write': 'Create, change, run and delete schedules',
  'webhooks:write': 'Add or remove webhooks, link Telegram, change where notifications go',
  'destinations:write': 'Add or remove export destinations'
} as const

export type TokenScope = keyof typeof TOKEN_SCOPES

export const TOKEN_SCOPE_IDS = Object.keys(TOKEN_SCOPES) as [TokenScope, ...TokenScope[]]

/** A new token's scopes when the request names none: everything but the channels. */
export const DEFAULT_TOKEN_SCOPES: TokenScope[] = ['exports:read', 'exports:write', 'schedules:write']

export const TokenScopeSchema = z.enum(TOKEN_SCOPE_IDS).meta({ id: 'TokenScope', description: 'What a token may do: see docs/api.md' })

export const CreateApiTokenSchema = z.strictObject({
  name: storedText({ max: 100 }).min(1, 'Enter a name'),
  expires_in_days: z.number('Must be a whole number of days').int('Must be a whole number of days')
    .min(1, 'At least 1 day').max(TOKEN_MAX_EXPIRY_DAYS, `At most ${TOKEN_MAX_EXPIRY_DAYS} days`).nullish(),
  scopes: z.array(TokenScopeSchema).min(1, 'Choose at least one scope')
    // Absent: createApiToken() gives DEFAULT_TOKEN_SCOPES.
    .transform(scopes => TOKEN_SCOPE_IDS.filter(s => scopes.includes(s))).optional()
    .meta({ description: `What the token may do; default ${DEFAULT_TOKEN_SCOPES.map(s => `\`${s}\``).join(', ')}` })
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
  expired: z.boolean().meta({ description: 'Past `expires_at`: the token answers 401 like a revoked one' }),
  scopes: z.array(TokenScopeSchema).meta({ description: 'What the token may do; a route outside them answers 403 naming the scope it needs' })
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
