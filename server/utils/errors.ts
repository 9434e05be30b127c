import type { H3Event } from 'h3'
import type { FieldError } from '#shared/types/api'
import { RequestError, ValidationError } from '../lib/validation'

export { parseWith } from '../lib/validation'

/** The HTTP error for what an engine function threw: its own status for a RequestError, else as is. */
export function httpError(error: unknown, event?: H3Event) {
  if (!(error instanceof RequestError)) return error
  const { data, retryAfterSeconds } = error.options
  if (event && retryAfterSeconds !== undefined) setHeader(event, 'retry-after', retryAfterSeconds)
  return createError({
    statusCode: error.statusCode,
    // The same statusMessage h3 gives a body its validator rejected, so every invalid request reads the same.
    ...(error instanceof ValidationError && { statusMessage: 'Validation Error' }),
    message: error.message,
    data
  })
}

/** 400 with `data.errors: [{ field, message }]`. */
export function badRequest(errors: FieldError[]) {
  return httpError(new ValidationError(errors))
}
