import type { H3Event } from 'h3'

/** The caller's IP: the socket's, or behind a trusted proxy the address that proxy saw. */
export function clientIp(event: H3Event, trustProxy: boolean): string {
  if (trustProxy) {
    // Only the last hop was written by our proxy; earlier entries are whatever the client sent.
    const forwarded = getHeader(event, 'x-forwarded-for')?.split(',').at(-1)?.trim()
    if (forwarded) return forwarded
  }
  return event.node.req.socket.remoteAddress ?? 'unknown'
}
