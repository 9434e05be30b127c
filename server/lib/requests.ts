import { randomUUID } from 'node:crypto'

/**
 * Request ids and the completion record of each HTTP request, for the logs and
 * `outport_http_request_duration_seconds` (the Nitro side is server/plugins/requests.ts).
 */

// What a proxy or client may send as X-Request-Id: UUIDs, ULIDs, AWS trace ids, base64. Anything
// else (too long, spaces, quotes, control characters) could forge or break log lines: replaced.
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:@=+/-]{1,128}$/

/** The caller's X-Request-Id when it is safe to echo and log, else a new UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header
  return value && SAFE_REQUEST_ID.test(value) ? value : randomUUID()
}

export interface CompletedRequest {
  method: string
  /** The raw path; only its part before `?` is logged (signed download links carry a token there). */
  path: string
  /** The matched route pattern, e.g. `/api/analytics/exports/:id`; none for static files and refusals before routing. */
  route?: string
  status: number
  durationMs: number
  requestId: string
  userId?: string
  /** The client went away before the response was complete. */
  aborted?: boolean
}

/** The route label for metrics: the pattern, never the raw path, so ids cannot multiply series. */
export function routeLabel(route: string | undefined): string {
  return route ?? 'unmatched'
}

/** The fields of a request's log line. */
export function requestLogFields(request: CompletedRequest): Record<string, unknown> {
  return {
    request_id: request.requestId,
    method: request.method,
    path: request.path.split('?')[0],
    route: routeLabel(request.route),
    status: request.status,
    duration_ms: Math.round(request.durationMs * 10) / 10,
    ...(request.userId && { user_id: request.userId }),
    ...(request.aborted && { aborted: true })
  }
}

// Polled every few seconds by load balancers, supervisors and Prometheus: at info they would
// drown every other line, so they are logged at debug (LOG_LEVEL=debug shows them).
const PROBES = /^\/(api\/health(\/live|\/ready)?|metrics)$/

/** info for requests people care about, debug for probes and scrapes that succeeded. */
export function requestLogLevel(request: CompletedRequest): 'info' | 'debug' {
  return PROBES.test(request.path.split('?')[0]!) && request.status < 400 ? 'debug' : 'info'
}
