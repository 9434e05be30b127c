import { requestIdFrom, requestLogFields, requestLogLevel, routeLabel, type CompletedRequest } from '../lib/requests'

declare module 'h3' {
  interface H3EventContext {
    /** This request's id (X-Request-Id), set before any handler runs. */
    requestId?: string
  }
}

/**
 * Every request gets an id (the caller's valid X-Request-Id, else a new one) echoed in the
 * X-Request-Id response header, and once its response is done (or the client went away) one log
 * line and one observation of outport_http_request_duration_seconds. Measured on the socket's
 * `close`, so errors, redirects and streamed bodies count alike.
 */
export default defineNitroPlugin((nitroApp) => {
  nitroApp.hooks.hook('request', (event) => {
    const started = performance.now()
    const requestId = requestIdFrom(event.node.req.headers['x-request-id'])
    event.context.requestId = requestId
    event.node.res.setHeader('x-request-id', requestId)
    event.node.res.once('close', () => {
      const { res } = event.node
      const request: CompletedRequest = {
        method: event.method,
        path: event.path,
        route: (event.context.matchedRoute as { path?: string } | undefined)?.path,
        status: res.statusCode,
        durationMs: performance.now() - started,
        requestId,
        userId: (event.context.user as { id?: string } | undefined)?.id,
        aborted: !res.writableFinished
      }
      useMetrics().httpRequest({ route: routeLabel(request.route), method: request.method, status: request.status, seconds: request.durationMs / 1000 })
      useLog()[requestLogLevel(request)](requestLogFields(request), 'request')
    })
  })
})
