import { STATUS_CODES } from 'node:http'
import { hasJsonErrors } from './lib/openapi/routes'

/**
 * Errors under /api (and of /metrics) are JSON for every client, as the OpenAPI document says.
 * Nuxt's handler (next in line) renders an HTML error page for a browser's Accept header, and that
 * page's sign-in middleware turns it into a 302 to /login: right for pages, wrong for an API. Nitro's default body is kept, with the two fields the
 * OpenAPI document promises: `url` the path and query (not the absolute URL), and `statusMessage`
 * the status's own reason phrase unless the error set one (not "Server Error" on every status).
 */
export default defineNitroErrorHandler(async (error, event, { defaultHandler }) => {
  if (!hasJsonErrors(event.path)) return
  const { status, headers, body } = await defaultHandler(error, event, { json: true })
  if (typeof body === 'string') return
  const statusMessage = error.statusMessage || STATUS_CODES[status] || ''
  setResponseHeaders(event, headers)
  setResponseStatus(event, status, statusMessage)
  return send(event, JSON.stringify({ ...body, url: event.path, statusMessage }))
})
