import { METRICS_CONTENT_TYPE, metricsAccess } from '../lib/metrics'

/**
 * Prometheus metrics (server/lib/metrics.ts). 404 while METRICS_TOKEN is unset, so an unconfigured
 * server does not even show the route; with it set, a missing or wrong bearer token is a 401 with
 * WWW-Authenticate, which tells an operator what a misconfigured scraper lacks.
 */
export default defineEventHandler(async (event) => {
  const { config } = await useAppContext()
  const access = metricsAccess(config.METRICS_TOKEN, getHeader(event, 'authorization'))
  if (access === 'disabled') throw createError({ statusCode: 404, message: 'Not found' })
  if (access === 'denied') {
    setHeader(event, 'www-authenticate', 'Bearer realm="metrics"')
    throw createError({ statusCode: 401, message: 'Send Authorization: Bearer <METRICS_TOKEN>' })
  }
  setHeaders(event, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' })
  return useMetrics().scrape()
})
