import type { H3Error } from 'h3'
import { RequestError, ValidationError } from '../lib/validation'

/**
 * A RequestError an engine function threw answers its own status, message, `data` and Retry-After,
 * from whichever route it came: routes let it through instead of each converting it. h3 has already
 * wrapped it (as `cause`) in an H3Error with its status and message, flagged unhandled, which would
 * render as an anonymous "Server Error"; Nitro runs 'error' hooks before it renders the error (as
 * database-unavailable.ts relies on too), so the rest is filled in here, once. A parser given to
 * readValidatedBody/getValidatedQuery throws a ValidationError that h3 wraps as `data` instead:
 * it answers the same, with only its own `data` (`errors`), not the wrapped object.
 */
export default defineNitroPlugin((nitroApp) => {
  nitroApp.hooks.hook('error', (error, { event }) => {
    const failure = error as H3Error
    const refusal = [failure.cause, failure.data].find(candidate => candidate instanceof RequestError)
    if (!event || !refusal) return
    const { data, retryAfterSeconds } = refusal.options
    failure.statusCode = refusal.statusCode
    // The same statusMessage h3 gives a body its validator rejected, so every invalid request reads the same.
    if (refusal instanceof ValidationError) failure.statusMessage = 'Validation Error'
    failure.message = refusal.message
    failure.data = data
    failure.unhandled = false
    if (retryAfterSeconds !== undefined) setHeader(event, 'retry-after', retryAfterSeconds)
  })
})
