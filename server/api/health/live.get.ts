/**
 * Liveness, unauthenticated: 200 while the process serves requests. It touches no dependency (a
 * database outage is not a reason to restart this process), so it costs nothing to call.
 */
export default defineEventHandler((event) => {
  setHeader(event, 'cache-control', 'no-store')
  return { status: 'ok' }
})
