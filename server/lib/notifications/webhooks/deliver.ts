import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import { vetUrl, type UrlPolicy } from './address'

/**
 * One HTTP attempt to a webhook endpoint: the address is vetted after DNS and the socket connects
 * to exactly that address (the custom lookup), so a name re-pointed between check and connect
 * cannot reach internal services. No redirects are followed (a 3xx is a failed attempt), the
 * whole attempt is cut off after `timeoutMs`, and at most `maxBodyBytes` of the answer are read.
 */

export interface AttemptResult {
  ok: boolean
  statusCode: number | null
  latencyMs: number
  error: string | null
  /** The start of the response body (for the deliveries list). */
  body: string
  /** A 429's or 503's Retry-After in seconds, when it gave one. */
  retryAfterSeconds?: number
}

export interface AttemptOptions extends UrlPolicy {
  timeoutMs?: number
  maxBodyBytes?: number
}

export const MAX_RESPONSE_BYTES = 64 * 1024

export async function attemptDelivery(rawUrl: string, headers: Record<string, string>, body: string, opts: AttemptOptions): Promise<AttemptResult> {
  const started = performance.now()
  const elapsed = () => Math.round(performance.now() - started)
  let vetted
  try {
    vetted = await vetUrl(rawUrl, opts)
  } catch (error) {
    return { ok: false, statusCode: null, latencyMs: elapsed(), error: `refused: ${(error as Error).message}`, body: '' }
  }
  const { url, address, family, addresses } = vetted
  const maxBody = opts.maxBodyBytes ?? MAX_RESPONSE_BYTES
  // Only the vetted addresses: with `all` (Node's happy eyeballs tries each, e.g. ::1 then
  // 127.0.0.1 for localhost) every one of them, all checked; otherwise the first.
  const lookup: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: Array<{ address: string, family: number }>) => void)(null, addresses)
    else callback(null, address, family)
  }
  const client = url.protocol === 'https:' ? https : http
  return new Promise<AttemptResult>((resolve) => {
    let settled = false
    const finish = (result: Omit<AttemptResult, 'latencyMs'>) => {
      if (settled) return
      settled = true
      resolve({ ...result, latencyMs: elapsed() })
    }
    const req = client.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Outport-Webhooks/1', ...headers, 'content-length': Buffer.byteLength(body) },
      lookup,
      // A fresh connection per attempt: a pooled socket could belong to an address vetted earlier.
      agent: false,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000)
    }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      const done = () => {
        const statusCode = res.statusCode ?? 0
        const ok = statusCode >= 200 && statusCode < 300
        const retryAfter = Number(res.headers['retry-after'])
        finish({ ok, statusCode, ...(Number.isFinite(retryAfter) && retryAfter >= 0 && { retryAfterSeconds: retryAfter }), error: ok ? null : statusCode >= 300 && statusCode < 400 ? `redirect (${statusCode}) not followed` : `HTTP ${statusCode}`, body: Buffer.concat(chunks).toString('utf8') })
        res.destroy()
      }
      res.on('data', (chunk: Buffer) => {
        // Only a small cap is read: a receiver streaming a huge answer must not fill our memory.
        const room = maxBody - size
        if (room > 0) chunks.push(chunk.subarray(0, room))
        size += chunk.length
        if (size >= maxBody) done()
      })
      res.on('end', done)
      res.on('error', (error: Error) => finish({ ok: false, statusCode: res.statusCode ?? null, error: error.message, body: '' }))
    })
    req.on('error', (error: Error) => {
      const message = error.name === 'TimeoutError' || error.name === 'AbortError' ? `timed out after ${opts.timeoutMs ?? 10_000} ms` : error.message
      finish({ ok: false, statusCode: null, error: message, body: '' })
    })
    req.end(body)
  })
}
