import { describe, expect, it } from 'vitest'
import { downloadTokenKey, signDownloadToken, signedDownloadUrl, verifyDownloadToken } from '#server/lib/exports/download-token'
import { retentionEnd } from '#server/lib/exports/retention'

const key = downloadTokenKey('a-session-password-that-is-long-enough-0123456789')
const jobId = '6f1c1d2e-8a4b-4c5d-9e6f-0a1b2c3d4e5f'
const otherJob = '7f1c1d2e-8a4b-4c5d-9e6f-0a1b2c3d4e5f'
const now = new Date('2026-11-22T10:00:00Z')
const later = new Date('2026-11-23T10:00:00Z')

describe('download tokens', () => {
  it('verifies its own token until the expiry, to the second', () => {
    const token = signDownloadToken(key, jobId, later)
    expect(token).toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/)
    expect(token.split('.')[0]).toBe(String(later.getTime() / 1000))
    expect(verifyDownloadToken(key, jobId, token, now)).toEqual({ ok: true, expiresAt: later })
    expect(verifyDownloadToken(key, jobId, token, new Date(later.getTime() - 1))).toMatchObject({ ok: true })
    expect(verifyDownloadToken(key, jobId, token, later)).toEqual({ ok: false, reason: 'expired' })
  })

  it('rounds the expiry down, never past the file', () => {
    const token = signDownloadToken(key, jobId, new Date('2026-11-23T10:00:00.999Z'))
    expect(verifyDownloadToken(key, jobId, token, new Date('2026-11-23T10:00:00.000Z'))).toEqual({ ok: false, reason: 'expired' })
  })

  it('treats the job id case-insensitively (UUIDs in URLs)', () => {
    expect(verifyDownloadToken(key, jobId.toUpperCase(), signDownloadToken(key, jobId, later), now)).toMatchObject({ ok: true })
  })

  it('rejects another job, another key, an edited expiry and every edited signature character', () => {
    const token = signDownloadToken(key, jobId, later)
    expect(verifyDownloadToken(key, otherJob, token, now)).toEqual({ ok: false, reason: 'invalid' })
    expect(verifyDownloadToken(downloadTokenKey('another-session-password-long-enough-0123456789'), jobId, token, now)).toEqual({ ok: false, reason: 'invalid' })
    const [expires, signature] = token.split('.') as [string, string]
    // An extended expiry is tampering (403), not an expired link (410).
    expect(verifyDownloadToken(key, jobId, `${Number(expires) + 3600}.${signature}`, now)).toEqual({ ok: false, reason: 'invalid' })
    expect(verifyDownloadToken(key, jobId, `${Number(expires) - 7 * 24 * 3600}.${signature}`, now)).toEqual({ ok: false, reason: 'invalid' })
    for (let i = 0; i < signature.length; i++) {
      const replacement = signature[i] === 'A' ? 'B' : 'A'
      const edited = `${expires}.${signature.slice(0, i)}${replacement}${signature.slice(i + 1)}`
      expect(verifyDownloadToken(key, jobId, edited, now), `character ${i}`).toEqual({ ok: false, reason: 'invalid' })
    }
  })

  it.each([undefined, null, 42, '', 'abc', '123.', '.abc', '1.2.3', `${'9'.repeat(13)}.${'A'.repeat(43)}`, `1700000000.${'A'.repeat(42)}`, ['1.2']])('rejects malformed %j', (token) => {
    expect(verifyDownloadToken(key, jobId, token, now)).toEqual({ ok: false, reason: 'invalid' })
  })

  it('derives different keys from different secrets, and never the secret itself', () => {
    expect(key.length).toBe(32)
    expect(key.equals(downloadTokenKey('a-session-password-that-is-long-enough-0123456780'))).toBe(false)
    expect(key.toString('utf8')).not.toContain('session')
  })

  it('builds the app link with the token, keeping a path in APP_URL', () => {
    const url = signedDownloadUrl('https://outport.example/app', key, jobId, later)
    expect(url).toBe(`https://outport.example/app/exports/${jobId}/download?token=${signDownloadToken(key, jobId, later)}`)
    expect(signedDownloadUrl('https://outport.example/', key, jobId, later)).toMatch(new RegExp(`^https://outport.example/exports/${jobId}/download\\?token=`))
  })

  it('expires with the retention period', () => {
    expect(retentionEnd(new Date('2026-11-22T10:00:00Z'), 24)).toEqual(new Date('2026-11-23T10:00:00Z'))
  })
})
