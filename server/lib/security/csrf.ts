/**
 * Cross-site request forgery guard for requests authenticated by a cookie, after Go's
 * CrossOriginProtection: browsers send Sec-Fetch-Site (modern) or Origin (all, on cross-origin
 * POSTs), so a state-changing request carrying either must show it came from the app itself.
 * A request with neither did not come from a browser page and cannot ride a victim's cookie.
 */
export function isCrossSiteRequest(headers: { origin?: string, secFetchSite?: string, host?: string }, allowedOrigins: string[]): boolean {
  const site = headers.secFetchSite?.toLowerCase()
  if (site) return site !== 'same-origin' && site !== 'none'
  if (!headers.origin) return false
  if (allowedOrigins.includes(headers.origin)) return false
  try {
    return new URL(headers.origin).host !== headers.host
  } catch {
    // "null" (sandboxed frames, privacy redirects) and garbage are never our origin.
    return true
  }
}
