import { isCrossSiteRequest } from '../lib/security/csrf'

// Nuxt's payload and config are inline scripts and @nuxt/ui injects inline styles, so 'self' plus
// 'unsafe-inline' is the tightest policy that keeps the app working without per-request nonces.
// The rest closes framing, plugins, <base> hijacking and foreign form targets.
const CSP = [
  'default-src \'self\'',
  'script-src \'self\' \'unsafe-inline\'',
  'style-src \'self\' \'unsafe-inline\'',
  'img-src \'self\' data: blob:',
  'font-src \'self\' data:',
  'connect-src \'self\'',
  'object-src \'none\'',
  'base-uri \'self\'',
  'form-action \'self\'',
  'frame-ancestors \'none\''
].join('; ')

// The largest valid request (1,000 account and 1,000 tag ids) is about 80 KB.
const MAX_BODY_BYTES = 128 * 1024
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Security headers on every response; size and origin checks on every state-changing request. */
export default defineEventHandler(async (event) => {
  setResponseHeaders(event, {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'strict-origin-when-cross-origin',
    'cross-origin-opener-policy': 'same-origin',
    // Vite's dev client needs more than this policy allows; production gets it in full.
    ...(import.meta.dev ? {} : { 'content-security-policy': CSP })
  })
  const appOrigin = new URL((await useAppContext()).config.APP_URL).origin
  if (appOrigin.startsWith('https://')) setHeader(event, 'strict-transport-security', 'max-age=31536000; includeSubDomains')

  if (SAFE_METHODS.has(event.method)) return
  const length = getHeader(event, 'content-length')
  if (length !== undefined && (!/^\d+$/.test(length) || Number(length) > MAX_BODY_BYTES)) {
    throw createError({ statusCode: 413, message: `Request body too large (at most ${MAX_BODY_BYTES} bytes)` })
  }
  // Without a declared length the size is only known after reading it all: refuse instead.
  if (length === undefined && getHeader(event, 'transfer-encoding')) {
    throw createError({ statusCode: 411, message: 'Send a Content-Length' })
  }
  // A bearer token is never sent by a browser on its own, so a request that authenticates with one
  // cannot be forged cross-site. Only that is exempt: a browser behind an SSO proxy may attach Basic
  // or Negotiate credentials by itself, and an unknown token authenticates nothing.
  if (await bearerUser(event)) return
  if (isCrossSiteRequest({ origin: getHeader(event, 'origin'), secFetchSite: getHeader(event, 'sec-fetch-site'), host: getHeader(event, 'host') }, [appOrigin])) {
    throw createError({ statusCode: 403, message: 'Cross-site request refused' })
  }
})
