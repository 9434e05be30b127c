import { format } from 'node:util'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '#server/lib/config'
import { downloadTokenKey, signDownloadToken, signedDownloadUrl } from '#server/lib/exports/download-token'
import { REDACTED, redact, showInLogOnce } from '#server/lib/redact'
import { createStorage, presignDownload } from '#server/lib/storage/s3'

const BOT_TOKEN = '7012345678:AAHk3bX9-q_Zr8vN2mPq4sT6uW8yA0cE1gI'
const JOB = '7c9e6679-7425-40de-944b-e07fc1f90ae7'
const API_TOKEN = `otp_${'Ab3_-'.repeat(8)}xyz`
const COOKIE = 'Fe26.2*1*3c1a9f*Zm9vYmFy*YmF6cXV4*1767225600000*9b2c*c2VhbGVk~2'

describe('redact', () => {
  it('removes destination credentials: JSON fields (also escaped inside a JSON line), PEM keys, SAS signatures', () => {
    const body = JSON.stringify({ credentials: { access_key_id: 'AKIAEXAMPLE', secret_access_key: 'wJalr/XUtn+FEMI', account_key: 'a2V5==', password: 'p"w' } })
    const once = redact(body)
    expect(once).toContain('"access_key_id":"AKIAEXAMPLE"')
    for (const secret of ['wJalr/XUtn+FEMI', 'a2V5==', 'p\\"w']) expect(once).not.toContain(secret)
    const nested = redact(JSON.stringify({ msg: body }))
    expect(nested).not.toContain('wJalr')
    const pem = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----'
    expect(redact(`key: ${pem}`)).toBe(`key: -----BEGIN OPENSSH PRIVATE KEY-----${REDACTED}-----END OPENSSH PRIVATE KEY-----`)
    expect(redact('sas sv=2024-01-01&se=2027-01-01&sig=abc%2Fdef')).toBe(`sas sv=2024-01-01&se=2027-01-01&sig=${REDACTED}`)
  })

  it('removes the bot token from a Bot API URL, as telegraf reports a non-JSON answer', () => {
    const line = `[outport:telegram] Telegram webhook not set (invalid json response body at https://api.telegram.org/bot${BOT_TOKEN}/setWebhook reason: Unexpected token '<')`
    const out = redact(line)
    expect(out).not.toContain(BOT_TOKEN)
    expect(out).not.toContain(BOT_TOKEN.split(':')[1])
    expect(out).toContain(`https://api.telegram.org/bot${REDACTED}/setWebhook`)
    // A bare token (e.g. printed from a config object) as well.
    expect(redact(format({ TELEGRAM_BOT_TOKEN: BOT_TOKEN }))).not.toContain(BOT_TOKEN.split(':')[1])
  })

  it('removes passwords in connection URLs and webhook secrets', () => {
    const out = redact('connect smtp://mailer:s3cret-pw@mail.example:587 failed; secret whsec_abcDEF1234567890+/abcdEFGH=')
    expect(out).toContain('smtp://mailer:')
    expect(out).toContain('@mail.example:587')
    expect(out).not.toContain('s3cret-pw')
    expect(out).not.toContain('abcDEF1234567890')
  })

  it('removes download-link tokens, plain and HTML-escaped, keeping the path', () => {
    const key = downloadTokenKey('unit-test-session-password-long-enough-0123456789')
    const token = signDownloadToken(key, JOB, new Date('2030-01-01T00:00:00Z'))
    const url = signedDownloadUrl('https://outport.example', key, JOB, new Date('2030-01-01T00:00:00Z'))
    const nitro = `[request error] [unhandled] [GET] ${url}\n TypeError: Cannot read properties of null (reading 's3_key')`
    const out = redact(nitro)
    expect(out).not.toContain(token)
    expect(out).not.toContain(token.split('.')[1])
    expect(out).toContain(`https://outport.example/exports/${JOB}/download?token=${REDACTED}`)
    expect(out).toContain('TypeError: Cannot read properties of null')
    expect(redact(`<a href="/x?a=1&amp;token=${token}">`)).toBe(`<a href="/x?a=1&amp;token=${REDACTED}">`)
  })

  it('removes the signature, credential and session token of presigned URLs', async () => {
    const storage = createStorage(loadConfig({
      DATABASE_URL: 'postgresql://unused',
      S3_EXPORTS_BUCKET: 'outport-exports',
      AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEKEY123456',
      AWS_SECRET_ACCESS_KEY: 'secret/with+chars'
    }))
    const url = new URL(await presignDownload(storage, `exports/u/${JOB}.csv`, { filename: 'a.csv', contentType: 'text/csv', expiresIn: 3600 }))
    url.searchParams.set('X-Amz-Security-Token', 'IQoJb3JpZ2luX2VjEJr//////////wEaCWV1LXdlc3QtMiJH')
    const signature = url.searchParams.get('X-Amz-Signature')!
    const out = redact(`redirecting to ${url.toString()} and ${JSON.stringify({ download_url: url.toString() })}`)
    expect(signature).toMatch(/^[0-9a-f]{64}$/)
    expect(out).not.toContain(signature)
    expect(out).not.toContain('AKIAEXAMPLEKEY123456')
    expect(out).not.toContain('IQoJb3JpZ2luX2VjEJr')
    expect(out).not.toContain(encodeURIComponent('IQoJb3JpZ2luX2VjEJr//////////wEaCWV1LXdlc3QtMiJH'))
    expect(out).toContain(`X-Amz-Signature=${REDACTED}`)
    // What is not secret stays, so the line is still useful.
    expect(out).toContain('X-Amz-Expires=3600')
    expect(out).toContain(`/exports/u/${JOB}.csv`)
  })

  it('removes bearer credentials, API tokens and the session cookie, however they were printed', () => {
    const headers = { authorization: `Bearer ${API_TOKEN}`, cookie: `theme=dark; nuxt-session=${COOKIE}; other=1` }
    for (const line of [
      format('request headers', headers),
      JSON.stringify(headers),
      `Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc`,
      `set-cookie: nuxt-session=${COOKIE}; Path=/; HttpOnly; Secure; SameSite=Lax`,
      `token ${API_TOKEN} revoked`
    ]) {
      const out = redact(line)
      expect(out).not.toContain(API_TOKEN)
      expect(out).not.toContain(API_TOKEN.slice(4))
      expect(out).not.toContain(COOKIE)
      expect(out).not.toContain('eyJhbGciOiJIUzI1NiJ9')
    }
    expect(redact(`cookie: theme=dark; nuxt-session=${COOKIE}; other=1`)).toBe(`cookie: theme=dark; nuxt-session=${REDACTED}; other=1`)
  })

  it('removes the user-info and query values of webhook URLs, wherever they are printed', () => {
    const secrets = ['hook-user', 's3cr3t-pass', 'Zk9qL2x', 'sig-0123456789', 'bare-secret']
    for (const line of [
      'webhook delivery to https://hook-user:s3cr3t-pass@hooks.example.com/in?key=Zk9qL2x&sig=sig-0123456789 failed: 500',
      `POST https://hook-user@hooks.example.com/in?bare-secret: ${JSON.stringify({ url: 'https://hooks.example.com/in?key=Zk9qL2x' })}`,
      '<a href="https://hooks.example.com/in?a=1&amp;key=Zk9qL2x">'
    ]) {
      const out = redact(line)
      for (const secret of secrets) expect(out, line).not.toContain(secret)
      // Where it went stays readable.
      expect(out).toContain('hooks.example.com/in?')
    }
    expect(redact('to https://hook-user:s3cr3t-pass@hooks.example.com/in?key=Zk9qL2x, then retry (https://hooks.example.com/x?a=1).'))
      .toBe(`to https://${REDACTED}@hooks.example.com/in?key=${REDACTED}, then retry (https://hooks.example.com/x?a=${REDACTED}).`)
  })

  it('lets a text marked to be shown through once, keeping the rest of its line redacted', () => {
    const demo = `otp_${'D'.repeat(43)}`
    showInLogOnce(demo)
    expect(redact(`Demo sign-in: demo1@outport.local / demo1-pw   API token: ${demo} (not ${API_TOKEN})`))
      .toBe(`Demo sign-in: demo1@outport.local / demo1-pw   API token: ${demo} (not otp_${REDACTED})`)
    expect(redact(`Authorization: Bearer ${demo}`)).not.toContain(demo)
  })

  it('leaves ordinary lines alone', () => {
    for (const line of [
      '[outport] worker started: concurrency 2',
      'Listening on http://127.0.0.1:3000',
      `[outport:telegram] Telegram update 1002 failed: 500: Internal Server Error`,
      `job ${JOB} completed in 12:34:56`,
      'GET /api/analytics/exports?limit=10&cursor=abc'
    ]) {
      expect(redact(line)).toBe(line)
    }
  })
})
