import { documentedMethods, isApiPath } from '../lib/openapi/routes'

/**
 * What the router cannot say for /api, decided from the OpenAPI table (server/lib/openapi/
 * operations.ts) so a new route is covered by being documented: a documented path called with a
 * method it lacks is 405 with `Allow` (not the app's sign-in page), and an operation that takes
 * JSON refuses any other body type with 415 (h3 would read multipart or XML as JSON). `/api`
 * itself serves nothing.
 */
export default defineEventHandler((event) => {
  if (!isApiPath(event.path)) return
  // As the client sent it: h3 decodes the path it routes by, so an id holding `%3F` would end it early.
  const path = (event.node.req.originalUrl ?? event.path).split('?')[0]!
  if (path === '/api' || path === '/api/') throw createError({ statusCode: 404, message: 'No API route here: see /api/openapi.json' })
  const methods = documentedMethods(path)
  if (!methods) return
  const operation = methods.get(event.method) ?? (event.method === 'HEAD' ? methods.get('GET') : undefined)
  if (!operation) {
    setHeader(event, 'allow', [...methods.keys()].join(', '))
    throw createError({ statusCode: 405, message: `${event.method} is not allowed on ${path} (allowed: ${[...methods.keys()].join(', ')})` })
  }
  // The router reads the decoded path: where that names another route without this method, it would
  // pass the request on to the app's pages (a sign-in redirect) instead of the /api catch-all.
  const routed = documentedMethods(event.path.split('?')[0]!)
  if (routed && !routed.has(event.method) && !(event.method === 'HEAD' && routed.has('GET'))) {
    throw createError({ statusCode: 404, message: `No API route ${event.method} ${path}` })
  }
  if (operation.jsonBody && hasBody(event) && !isJson(getHeader(event, 'content-type'))) {
    throw createError({ statusCode: 415, message: 'Send the body as application/json' })
  }
})

function hasBody(event: Parameters<typeof getHeader>[0]): boolean {
  const length = getHeader(event, 'content-length')
  return (length !== undefined && length !== '0') || getHeader(event, 'transfer-encoding') !== undefined
}

function isJson(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]!.trim().toLowerCase() === 'application/json'
}
