import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import { appLink } from '../links'

/**
 * Download links that work without a session (a tap in Telegram on a phone): the link carries an
 * HMAC-SHA256 over the job id and an expiry, `<expiry unix seconds>.<base64url mac>`. The key is
 * derived (HKDF) from NUXT_SESSION_PASSWORD under its own label, so it never equals the cookie
 * sealing key and no second secret has to be provisioned; rotating that password revokes every
 * outstanding link along with every session.
 */

const TOKEN = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/

export type DownloadTokenCheck = { ok: true, expiresAt: Date } | { ok: false, reason: 'invalid' | 'expired' }

export function downloadTokenKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'outport', 'export-download-link/v1', 32))
}

function mac(key: Buffer, jobId: string, expires: number): Buffer {
  return createHmac('sha256', key).update(`${jobId.toLowerCase()}.${expires}`).digest()
}

/** Expiry is rounded down to the second: a link never outlives the file it points to. */
export function signDownloadToken(key: Buffer, jobId: string, expiresAt: Date): string {
  const expires = Math.floor(expiresAt.getTime() / 1000)
  return `${expires}.${mac(key, jobId, expires).toString('base64url')}`
}

/**
 * The signature is checked before the expiry, so an edited expiry reads as tampering (403), and
 * only a genuine but old link reads as expired (410).
 */
export function verifyDownloadToken(key: Buffer, jobId: string, token: unknown, now = new Date()): DownloadTokenCheck {
  const match = typeof token === 'string' ? TOKEN.exec(token) : null
  if (!match) return { ok: false, reason: 'invalid' }
  const expires = Number(match[1])
  // Compared as text: base64url's last character has spare bits, so decoding first would accept
  // several spellings of one signature.
  const given = Buffer.from(match[2]!)
  const expected = Buffer.from(mac(key, jobId, expires).toString('base64url'))
  if (!timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' }
  const expiresAt = new Date(expires * 1000)
  if (expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' }
  return { ok: true, expiresAt }
}

/** `APP_URL/exports/<job_id>/download?token=...`, keeping any path APP_URL has. */
export function signedDownloadUrl(appUrl: string, key: Buffer, jobId: string, expiresAt: Date): string {
  return appLink(appUrl, `exports/${jobId}/download`, { token: signDownloadToken(key, jobId, expiresAt) })
}
