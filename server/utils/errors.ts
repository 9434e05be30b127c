import type { FieldError } from '#shared/types/api'
import { ValidationError } from '../lib/validation'

export { parseWith } from '../lib/validation'

/**
 * 400 with `data.errors: [{ field, message }]`: the shape h3 also produces when a parseWith()
 * parser rejects a body or query, so every invalid request reads the same.
 */
export function badRequest(errors: FieldError[]) {
  const error = new ValidationError(errors)
  return createError({ statusCode: 400, statusMessage: 'Validation Error', message: error.message, data: { errors } })
}
