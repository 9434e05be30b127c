import { z } from 'zod'
import { RequestRefusalCodeSchema } from './errors'
import { TokenScopeSchema } from './tokens'

/**
 * Response shapes shared by the API and the app. Field names are snake_case, as in the PRD. The
 * zod schemas describe what the routes answer (the OpenAPI document at /api/openapi.json is built
 * from them); the TypeScript types are inferred from them, so the two cannot drift apart.
 */

export const NamedItemSchema = z.object({
  id: z.guid(),
  name: z.string()
}).meta({ id: 'NamedItem' })

export type NamedItemDTO = z.infer<typeof NamedItemSchema>

export const NamedItemListSchema = z.array(NamedItemSchema)

export const FieldErrorSchema = z.object({
  field: z.string().meta({ description: 'The field (dotted path for nested ones, "" for the whole body, or a header\'s name)' }),
  message: z.string()
}).meta({ id: 'FieldError' })

export type FieldError = z.infer<typeof FieldErrorSchema>

/**
 * Every error the API answers, whatever the status: Nitro's JSON error body (`error`, `url`) for
 * errors thrown with createError or a RequestError, or the same fields without those two from the
 * catch-all 404 of an unknown /api path. `data` carries details: `errors` (400), the job's `status`
 * (409), the `required_scope` a token lacks (403), the refusal's `code` (429, 503), nothing for most.
 */
export const ApiErrorSchema = z.object({
  error: z.literal(true).optional(),
  url: z.string().optional().meta({ description: 'The request\'s path and query' }),
  statusCode: z.int().min(400).max(599),
  statusMessage: z.string().meta({ description: '"Validation Error" for a 400 naming fields; otherwise the status\'s reason phrase or empty' }),
  message: z.string().meta({ description: 'For people: what went wrong and, where there is one, what to do' }),
  data: z.object({
    errors: z.array(FieldErrorSchema).optional(),
    status: z.string().optional(),
    required_scope: TokenScopeSchema.optional(),
    code: RequestRefusalCodeSchema.optional()
  }).optional()
}).meta({ id: 'Error' })

export type ApiError = z.infer<typeof ApiErrorSchema>

/** `{ ok: true }`: the answer of actions with nothing else to say. */
export const OkSchema = z.object({ ok: z.literal(true) })
