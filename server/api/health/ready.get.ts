/**
 * Readiness, unauthenticated: database, warehouse and storage reachable (200), or 503 naming which
 * is not. Probe results are reused for 5 s and shared by concurrent callers, so any number of
 * requests costs each dependency at most one probe per 5 s. For a load balancer deciding whether to
 * send traffic here; a supervisor deciding whether to restart the process uses /api/health/live.
 */
export default defineEventHandler(async (event) => {
  setHeader(event, 'cache-control', 'no-store')
  const readiness = await useReadiness().catch((error: Error) => error)
  if (readiness instanceof Error) {
    setResponseStatus(event, 503)
    // Configuration errors name variables, never their values.
    return { status: 'error', error: readiness.message }
  }
  const { ok, checks } = await readiness.check()
  setResponseStatus(event, ok ? 200 : 503)
  return { status: ok ? 'ok' : 'degraded', checks }
})
