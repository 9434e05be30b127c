import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createApiToken } from '#server/lib/auth/tokens'
import { createDb, type Db } from '#server/lib/db/client'
import { downloadTokenKey, signDownloadToken, signedDownloadUrl } from '#server/lib/exports/download-token'
import { retentionEnd } from '#server/lib/exports/retention'
import { S3RVER_CREDENTIALS } from '#server/lib/local/s3rver'
import { createExportJob } from '#server/lib/exports/jobs/submit'
import { REPLIES } from '#server/lib/telegram/messages'
import { DATASETS } from '#server/lib/warehouse/datasets'
import type { ExportJobDTO } from '#shared/types/exports'
import { formatBytes } from '#shared/utils/format'
import { TEST_BUCKET, type TestEnvironment } from '../helpers/environment'
import { FAKE_BOT, messageUpdate, startFakeTelegram, type FakeTelegram } from '../helpers/fake-telegram'
import { client } from '../helpers/http'
import { useServerSuite } from '../helpers/suite'

const SECRET = 'e2e-webhook-secret_0123456789'
const APP_URL = 'https://outport.example'
const CHAT = 5_551_234
const TRANSACTIONS = DATASETS.find(d => d.name === 'fct_transactions')!

/** Telegram end to end: the built server, its own environment, and a fake Bot API over HTTP. */
describe('Telegram', () => {
  let fake: FakeTelegram
  const suite = useServerSuite({
    name: 'telegram',
    users: 1,
    transactions: 500,
    prepare: async ({ onTeardown }) => {
      fake = await startFakeTelegram()
      onTeardown(() => fake.close())
    },
    env: ({ environment }) => ({
      APP_URL,
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.url,
      TELEGRAM_WEBHOOK_SECRET: SECRET,
      EXPORT_WORK_DIR: join(environment.dir, 'work')
    })
  })
  let db: Db
  let env: Record<string, string>
  let user: TestEnvironment['demo']['users'][number]
  let key: Buffer
  let api: ReturnType<typeof client>

  const webhook = (update: unknown, secret: string | null = SECRET) => api.api('/api/telegram/webhook', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret !== null && { 'x-telegram-bot-api-secret-token': secret }) },
    body: typeof update === 'string' ? update : JSON.stringify(update)
  })
  const status = async () => (await api.api('/api/telegram/status', { token: user.token })).json()
  const chatId = async () => (await db.user.findUniqueOrThrow({ where: { id: user.user_id } })).telegramChatId
  const notifications = () => fake.messages(CHAT).filter(m => m.parse_mode === 'HTML')
  const auditActions = async (action: string) => (await db.auditEvent.findMany({ where: { userId: user.user_id, action }, orderBy: { createdAt: 'asc' } }))

  async function link(chat = CHAT) {
    const res = await api.postJson('/api/telegram/link', {}, { token: user.token })
    expect(res.status).toBe(201)
    const { code } = await res.json()
    expect((await webhook(messageUpdate(chat, `/start ${code}`))).status).toBe(200)
    expect(await chatId()).toBe(BigInt(chat))
  }

  async function exportAndWait(body: Record<string, unknown> = { dataset_id: TRANSACTIONS.id, format: 'csv' }): Promise<ExportJobDTO> {
    const id = await api.createExport(user.token, body)
    return api.waitForExport(user.token, id)
  }

  /** The path and query of the message's Download link, to be fetched from this test server. */
  function downloadPath(text: string): string {
    const href = /<a href="([^"]+)">Download<\/a>/.exec(text)?.[1]
    expect(href).toBeDefined()
    const url = new URL(href!.replaceAll('&amp;', '&'))
    expect(url.origin).toBe(APP_URL)
    return url.pathname + url.search
  }

  /** As after a crash: the server starts again on the same environment. */
  async function restart() {
    await suite.restart()
    api = client(suite.url)
  }

  beforeAll(() => {
    env = suite.env
    user = suite.demo.users[0]!
    key = downloadTokenKey(env.NUXT_SESSION_PASSWORD!)
    db = createDb(env.DATABASE_URL!, { max: 2 })
    api = client(suite.url)
  })
  afterAll(async () => {
    await db?.$disconnect()
  })

  it('registers its webhook at start-up, with the secret', async () => {
    await fake.waitFor(requests => requests.some(r => r.method === 'setWebhook'))
    expect(fake.requests.find(r => r.method === 'setWebhook')!.body).toEqual({
      url: `${APP_URL}/api/telegram/webhook`,
      secret_token: SECRET,
      allowed_updates: ['message']
    })
  })

  it('the webhook rejects requests without the right secret and handles nothing', async () => {
    fake.reset()
    const update = messageUpdate(CHAT, '/start')
    expect((await webhook(update, null)).status).toBe(401)
    expect((await webhook(update, 'wrong-secret_0123456789')).status).toBe(403)
    expect((await webhook(update, `${SECRET}x`)).status).toBe(403)
    await sleep(200)
    expect(fake.messages()).toEqual([])
    expect((await webhook(update)).status).toBe(200)
    await fake.waitFor(() => fake.messages(CHAT).length === 1)
    expect(fake.messages(CHAT)[0]!.text).toBe(REPLIES.hello)
  })

  it('status and link need a signed-in user', async () => {
    expect((await api.api('/api/telegram/status')).status).toBe(401)
    expect((await api.postJson('/api/telegram/link', {})).status).toBe(401)
    expect((await api.api('/api/telegram/link', { method: 'DELETE' })).status).toBe(401)
  })

  it('links a chat end to end: code, deep link, /start through the webhook, confirmation; the code works once', async () => {
    fake.reset()
    expect(await status()).toEqual({ enabled: true, linked: false, bot_username: FAKE_BOT.username })
    const res = await api.postJson('/api/telegram/link', {}, { token: user.token })
    expect(res.status).toBe(201)
    const body = await res.json()
    expect(body).toEqual({
      code: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/),
      deep_link: `https://t.me/${FAKE_BOT.username}?start=${body.code}`,
      bot_username: FAKE_BOT.username,
      expires_at: expect.any(String)
    })
    const ttl = new Date(body.expires_at).getTime() - Date.now()
    expect(ttl).toBeGreaterThan(14 * 60_000)
    expect(ttl).toBeLessThanOrEqual(15 * 60_000)

    expect((await webhook(messageUpdate(CHAT, `/start ${body.code}`))).status).toBe(200)
    expect(fake.messages(CHAT).map(m => m.text)).toEqual([REPLIES.linked(user.email)])
    expect(await status()).toEqual({ enabled: true, linked: true, bot_username: FAKE_BOT.username })
    expect(await chatId()).toBe(BigInt(CHAT))
    // The bot's link has no HTTP client behind it: no IP or user agent, the chat instead.
    expect((await auditActions('telegram.linked')).at(-1)).toMatchObject({ ip: null, userAgent: null, details: { chat_id: String(CHAT) } })

    // The same code again, from another chat: a polite reply and no change.
    expect((await webhook(messageUpdate(777, `/start ${body.code}`))).status).toBe(200)
    expect(fake.messages(777).map(m => m.text)).toEqual([REPLIES.badCode])
    expect(await chatId()).toBe(BigInt(CHAT))
  })

  it('another user\'s link code sent from a linked chat is refused and leaves both users\' links as they were', async () => {
    const MALLORY_CHAT = 6_660_001
    const mallory = await db.user.create({ data: { email: 'mallory@example.com', passwordHash: 'x', displayName: 'Mallory' } })
    const { token } = await createApiToken(db, mallory.id, 'e2e', { scopes: ['webhooks:write'] })
    const code = async () => {
      const res = await api.postJson('/api/telegram/link', {}, { token })
      expect(res.status).toBe(201)
      return (await res.json()).code as string
    }
    try {
      expect((await webhook(messageUpdate(MALLORY_CHAT, `/start ${await code()}`))).status).toBe(200)
      fake.reset()
      // Mallory's deep link, tapped in the victim's chat.
      const planted = await code()
      expect((await webhook(messageUpdate(CHAT, `/start ${planted}`))).status).toBe(200)
      expect(fake.messages(CHAT).map(m => m.text)).toEqual([REPLIES.linkedToAnother])
      expect(REPLIES.linkedToAnother).toContain('This chat is linked to another Outport account; send /stop first')
      expect(await chatId()).toBe(BigInt(CHAT))
      expect((await db.user.findUniqueOrThrow({ where: { id: mallory.id } })).telegramChatId).toBe(BigInt(MALLORY_CHAT))
      expect(await status()).toMatchObject({ linked: true })
    } finally {
      await db.user.delete({ where: { id: mallory.id } })
    }
  })

  it('answers 200 once authenticated, even when handling fails or the body is not an update', async () => {
    fake.fail('sendMessage', { status: 500, description: 'Internal Server Error' })
    expect((await webhook(messageUpdate(CHAT, '/start'))).status).toBe(200)
    expect((await webhook('{not json')).status).toBe(200)
    expect((await webhook({ hello: 'world' })).status).toBe(200)
    expect(suite.server.output()).toMatch(/update \d+ failed: 500/)
    expect(await chatId()).toBe(BigInt(CHAT))
  })

  let completed: ExportJobDTO
  let completedMessage: string

  it('announces a completed export: exact HTML with escaped account and tag names and a signed link', async () => {
    const [account, otherAccount] = user.account_ids as [string, string]
    const tag = user.tag_ids[0]!
    await db.account.update({ where: { id: account }, data: { name: 'Main <Current> & "Joint"' } })
    await db.account.update({ where: { id: otherAccount }, data: { name: 'Savings' } })
    await db.tag.update({ where: { id: tag }, data: { name: '<b>Food</b> & drink' } })
    fake.reset()

    completed = await exportAndWait({ dataset_id: TRANSACTIONS.id, format: 'csv', start_date: '2020-01-01', end_date: '2030-12-31', account_ids: [account, otherAccount], tag_ids: [tag] })
    expect(completed.status).toBe('completed')
    await fake.waitFor(() => notifications().length === 1)
    const expiresAt = retentionEnd(new Date(completed.completed_at!), 24)
    completedMessage = notifications()[0]!.text
    expect(notifications()[0]).toEqual({
      chat_id: CHAT,
      parse_mode: 'HTML',
      link_preview_options: { is_disabled: true },
      text: [
        '✅ <b>Export ready: Transactions</b>',
        'Format: CSV',
        'Dates: 2020-01-01 to 2030-12-31',
        'Accounts: Main &lt;Current&gt; &amp; &quot;Joint&quot;, Savings',
        'Tags: &lt;b&gt;Food&lt;/b&gt; &amp; drink',
        `Rows: ${completed.row_count!.toLocaleString('en-US')}`,
        `Size: ${formatBytes(completed.file_size_bytes!, 'en-US')}`,
        '',
        `<a href="${signedDownloadUrl(APP_URL, key, completed.job_id, expiresAt)}">Download</a> (available until ${expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC)`
      ].join('\n')
    })
    expect(completed.row_count).toBeGreaterThan(0)
  })

  it('the link works without a session: 302 to a fresh presigned URL, then the file itself', async () => {
    const res = await api.api(downloadPath(completedMessage), { headers: { 'user-agent': 'telegram-link-test' } })
    expect(res.status).toBe(302)
    expect(res.headers.get('cache-control')).toBe('no-store')
    // No session: the download is recorded in the owner's trail, with the opener's address.
    const downloads = (await auditActions('export.downloaded')).filter(e => (e.details as { via?: string }).via === 'link')
    expect(downloads.at(-1)).toMatchObject({ objectId: completed.job_id, tokenId: null, userAgent: 'telegram-link-test', ip: expect.stringMatching(/127\.0\.0\.1/) })
    const location = res.headers.get('location')!
    expect(location.startsWith(env.S3_ENDPOINT!)).toBe(true)
    expect(new URL(location).searchParams.get('X-Amz-Expires')).toBe('3600')
    const file = await fetch(location)
    expect(file.status).toBe(200)
    expect(file.headers.get('content-disposition')).toBe('attachment; filename="fct_transactions_2020-01-01_to_2030-12-31.csv"')
    const bytes = Buffer.from(await file.arrayBuffer())
    expect(bytes.length).toBe(completed.file_size_bytes)
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(completed.checksum_sha256)
  })

  it('tampered, wrong-job and missing tokens get 403; an expired token gets 410 with a clear page', async () => {
    const path = downloadPath(completedMessage)
    const token = new URL(path, APP_URL).searchParams.get('token')!
    const [expires, signature] = token.split('.') as [string, string]
    const flipped = `${expires}.${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`
    const other = await exportAndWait()
    const cases = [
      `/exports/${completed.job_id}/download?token=${flipped}`,
      `/exports/${completed.job_id}/download?token=${Number(expires) + 86_400}.${signature}`,
      `/exports/${other.job_id}/download?token=${token}`,
      `/exports/${completed.job_id}/download`,
      `/exports/not-a-uuid/download?token=${token}`
    ]
    for (const tampered of cases) {
      const res = await api.api(tampered)
      expect(res.status, tampered).toBe(403)
      expect(res.headers.get('content-type')).toMatch(/^text\/html/)
      expect(await res.text()).toContain('This download link is not valid')
    }

    const expired = signDownloadToken(key, completed.job_id, new Date(Date.now() - 1000))
    const res = await api.api(`/exports/${completed.job_id}/download?token=${expired}`)
    expect(res.status).toBe(410)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    const html = await res.text()
    expect(html).toContain('This export is no longer available')
    expect(html).toContain('kept for 24 hours')
  })

  it('a valid link stops working (410) once the export expired or its file was deleted', async () => {
    const second = await exportAndWait()
    const link = (job: ExportJobDTO) => `/exports/${job.job_id}/download?token=${signDownloadToken(key, job.job_id, retentionEnd(new Date(job.completed_at!), 24))}`
    expect((await api.api(link(second))).status).toBe(302)

    await db.job.update({ where: { id: completed.job_id }, data: { status: 'expired' } })
    expect((await api.api(link(completed))).status).toBe(410)

    const s3 = new S3Client({ endpoint: env.S3_ENDPOINT, region: 'eu-west-2', forcePathStyle: true, credentials: S3RVER_CREDENTIALS })
    const { s3_key: objectKey } = (await db.job.findUniqueOrThrow({ where: { id: second.job_id } })).metadata as { s3_key: string }
    await s3.send(new DeleteObjectCommand({ Bucket: TEST_BUCKET, Key: objectKey }))
    const res = await api.api(link(second))
    expect(res.status).toBe(410)
    expect(await res.text()).toContain('no longer available')

    await db.job.delete({ where: { id: second.job_id } })
    expect((await api.api(link(second))).status).toBe(410)
  })

  it('announces a failed export: which one, why, and a link to the app', async () => {
    fake.reset()
    const gone = '00000000-0000-4000-8000-00000000dead'
    const job = await createExportJob(db, user.user_id, {
      dataset_id: gone,
      dataset_name: 'fct_<gone> & co',
      format: 'parquet',
      filters: { start_date: null, end_date: '2026-06-30', account_ids: [], tag_ids: [] }
    })
    expect((await api.waitForExport(user.token, job.id)).status).toBe('failed')
    await fake.waitFor(() => notifications().length === 1)
    expect(notifications()[0]!.text).toBe([
      '❌ <b>Export failed: fct_&lt;gone&gt; &amp; co</b>',
      'Format: Parquet',
      'Dates: until 2026-06-30',
      'Accounts: all',
      'Tags: all',
      'Reason: This dataset is no longer available.',
      '',
      `<a href="${APP_URL}/analytics/datasets?export=${gone}&amp;job=${job.id}">Open Outport</a> to try again.`
    ].join('\n'))
  })

  it('a Telegram outage (500, then connection refused) does not fail the job', async () => {
    fake.reset()
    fake.fail('sendMessage', { status: 500, description: 'Internal Server Error' })
    const first = await exportAndWait()
    expect(first.status).toBe('completed')
    await fake.waitFor(() => fake.messages(CHAT).length === 1)

    const port = Number(new URL(fake.url).port)
    await fake.close()
    const second = await exportAndWait()
    expect(second.status).toBe('completed')
    expect(second.download_url).toMatch(/^http/)
    await expect.poll(() => suite.server.output(), { timeout: 15_000 }).toMatch(new RegExp(`job ${second.job_id} not delivered.*ECONNREFUSED`))
    fake = await startFakeTelegram({ port })

    // Given up, not retried later: the outage's messages do not arrive late.
    for (const job of [first, second]) {
      expect(await db.jobNotification.findUnique({ where: { jobId_channel: { jobId: job.job_id, channel: 'telegram' } } })).not.toBeNull()
    }
    const third = await exportAndWait()
    await fake.waitFor(() => notifications().length === 1)
    expect(notifications()[0]!.text).toContain(`/exports/${third.job_id}/download`)
  })

  it('respects 429 retry_after without holding up the job', async () => {
    fake.reset()
    fake.fail('sendMessage', { status: 429, description: 'Too Many Requests: retry after 2', retryAfter: 2 })
    const job = await exportAndWait()
    await fake.waitFor(() => notifications().length === 2)
    const [first, second] = fake.requests.filter(r => r.method === 'sendMessage')
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1900)
    expect(second!.body).toEqual(first!.body)
    // The job was final before the wait was over.
    expect(new Date(job.completed_at!).getTime()).toBeLessThan(second!.at)
  })

  it('sends no second message when a job is run again', async () => {
    fake.reset()
    const job = await exportAndWait()
    await fake.waitFor(() => notifications().length === 1)
    // As if another worker picked the job up again after a crash.
    await db.$executeRaw`UPDATE jobs SET status = 'pending', run_at = now(), completed_at = NULL WHERE id = ${job.job_id}::uuid`
    await db.$executeRaw`SELECT pg_notify('outport_jobs', 'new')`
    await expect.poll(async () => (await api.getExport(user.token, job.job_id)).attempts, { timeout: 30_000 }).toBe(2)
    expect((await api.waitForExport(user.token, job.job_id)).status).toBe('completed')
    await sleep(1000)
    expect(notifications()).toHaveLength(1)
  })

  it('after a crash between finishing and notifying, the restarted server sends the message once (recent jobs only)', async () => {
    fake.reset()
    const recent = await exportAndWait()
    const old = await exportAndWait()
    await fake.waitFor(() => notifications().length === 2)
    await suite.server.stop()
    fake.reset()
    await db.jobNotification.deleteMany({ where: { jobId: { in: [recent.job_id, old.job_id] }, channel: 'telegram' } })
    await db.job.update({ where: { id: old.job_id }, data: { completedAt: new Date(Date.now() - 2 * 3600_000) } })
    await restart()
    await fake.waitFor(() => notifications().length === 1)
    await sleep(1000)
    expect(notifications()).toHaveLength(1)
    expect(notifications()[0]!.text).toContain(`/exports/${recent.job_id}/download`)
  })

  it('unlinks the chat when Telegram says the bot was blocked; the job is unaffected', async () => {
    fake.reset()
    fake.fail('sendMessage', { status: 403, description: 'Forbidden: bot was blocked by the user' })
    const job = await exportAndWait()
    expect(job.status).toBe('completed')
    await expect.poll(chatId, { timeout: 15_000 }).toBeNull()
    expect(await status()).toMatchObject({ enabled: true, linked: false })
    expect((await auditActions('telegram.unlinked')).at(-1)?.details).toMatchObject({ via: 'bot_blocked' })
  })

  it('disconnecting in the app stops the messages; /stop in the chat does too', async () => {
    await link()
    const res = await api.api('/api/telegram/link', { method: 'DELETE', token: user.token })
    expect(res.status).toBe(200)
    expect(await status()).toMatchObject({ linked: false })
    fake.reset()
    await exportAndWait()
    await sleep(1000)
    expect(notifications()).toEqual([])

    await link()
    expect((await webhook(messageUpdate(CHAT, '/stop'))).status).toBe(200)
    expect(await chatId()).toBeNull()
    expect(fake.messages(CHAT).at(-1)!.text).toBe(REPLIES.stopped)
    expect((await auditActions('telegram.unlinked')).slice(-2).map(e => (e.details as { via?: string }).via)).toEqual(['app', 'bot'])
  })
})

describe('Telegram when no bot token is configured', () => {
  const { api, postJson } = client(inject('baseUrl'))
  const token = inject('demo').users[0]!.token

  it('is off: status says so, and the Telegram routes are 404', async () => {
    const res = await api('/api/telegram/status', { token })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ enabled: false, linked: false, bot_username: null })
    expect((await postJson('/api/telegram/link', {}, { token })).status).toBe(404)
    expect((await postJson('/api/telegram/webhook', messageUpdate(1, '/start'), { headers: { 'x-telegram-bot-api-secret-token': SECRET } })).status).toBe(404)
  })
})
