import type { H3Error } from 'h3'
import { isDatabaseUnavailable } from '../lib/db/client'

const RETRY_AFTER_SECONDS = 5

/**
 * A request that failed because PostgreSQL is unreachable answers 503 with a message and
 * Retry-After instead of an anonymous 500, so people and retrying clients can tell an outage from a
 * bug. Nitro runs 'error' hooks before it renders the error, so the error is reshaped here, once,
 * rather than in every handler (a test holds this for the built server).
 */
export default defineNitroPlugin((nitroApp) => {
  nitroApp.hooks.hook('error', (error, { event }) => {
    const failure = error as H3Error
    if (!event || failure.statusCode !== 500 || !isDatabaseUnavailable(failure.cause ?? failure)) return
    // Rendered as a handled error, so Nitro no longer logs it: say what happened here, briefly.
    // The path without its query: signed download links carry their token there.
    useRequestLog(event).error(`${event.method} ${event.path.split('?')[0]}: database unavailable: ${(failure.cause as Error | undefined)?.message ?? failure.message}`)
    failure.statusCode = 503
    failure.statusMessage = 'Service Unavailable'
    failure.message = 'The database is unavailable right now. Please try again in a moment.'
    failure.unhandled = false
    setHeader(event, 'retry-after', RETRY_AFTER_SECONDS)
  })
})
