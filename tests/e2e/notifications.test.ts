import { createHash } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, type Db } from '#server/lib/db/client'
import { createExportJob } from '#server/lib/exports/jobs/submit'
import { DATASETS } from '#server/lib/warehouse/datasets'
import type { CreatedWebhookDTO, WebhookDeliveryDTO } from '#shared/types/notifications'
import type { ScheduleDTO } from '#shared/types/schedules'
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack'
import { client } from '../helpers/http'
import { useServerSuite } from '../helpers/suite'

const APP_URL = 'https://outport.example'
const TRANSACTIONS = DATASETS.find(d => d.name === 'fct_transactions')!

interface Hit { headers: IncomingHttpHeaders, body: string, path: string }

/** Email (a real SMTP server in this process) and webhooks (a local receiver) against the built server. */
describe('notifications: email and webhooks', () => {
  const mails: ParsedMail[] = []
  const hits: Hit[] = []
  /** Status codes per receiver path; the last one repeats. */
  const scripts = new Map<string, number[]>()
  let smtp: SMTPServer
  let receiver: Server
  let receiverUrl: string
  let smtpPort: number
  let slack: FakeSlack

  const suite = useServerSuite({
    name: 'notifications',
    users: 2,
    transactions: 500,
    prepare: async ({ onTeardown }) => {
      smtp = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        onData(stream, _session, callback) {
          simpleParser(stream).then((mail) => {
            mails.push(mail)
            callback()
          }, callback)
        }
      })
      await new Promise<void>(r => smtp.listen(0, '127.0.0.1', r))
      smtpPort = (smtp.server.address() as AddressInfo).port
      receiver = createServer((req, res) => {
        let body = ''
        req.on('data', (c: Buffer) => (body += c))
        req.on('end', () => {
          const path = req.url ?? '/'
          hits.push({ headers: req.headers, body, path })
          const script = scripts.get(path) ?? [200]
          const n = hits.filter(h => h.path === path).length
          res.writeHead(script[Math.min(n - 1, script.length - 1)]!).end()
        })
      })
      await new Promise<void>(r => receiver.listen(0, '127.0.0.1', r))
      receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
      slack = await startFakeSlack()
      onTeardown(() => slack.close())
      onTeardown(() => new Promise<void>(r => smtp.close(() => r())))
      onTeardown(() => new Promise<void>(r => receiver.close(() => r())))
    },
    env: ({ environment }) => ({
      APP_URL,
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      EMAIL_FROM: 'Outport <noreply@outport.example>',
      WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
      WEBHOOK_RETRY_BASE_MS: '100',
      WEBHOOK_MAX_ATTEMPTS: '4',
      SCHEDULES_DISABLE_AFTER_FAILURES: '2',
      EXPORT_WORK_DIR: join(environment.dir, 'work')
    })
  })

  let db: Db
  let api: ReturnType<typeof client>
  let user: { user_id: string, email: string, token: string, account_ids: string[] }
  let other: { user_id: string, token: string }
  let endpoint: CreatedWebhookDTO

  const ACCOUNT_ALERT = 'Your Outport account changed'
  const allMailsTo = (address: string) => mails.filter(m => m.to && !Array.isArray(m.to) && m.to.value[0]?.address === address)
  // The exports' emails; the account alerts that adding a webhook or changing settings sends are counted apart.
  const mailsTo = (address: string) => allMailsTo(address).filter(m => m.subject !== ACCOUNT_ALERT)
  const alertsTo = (address: string) => allMailsTo(address).filter(m => m.subject === ACCOUNT_ALERT)
  const hitsAt = (path: string) => hits.filter(h => h.path === path)
  async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 20_000) {
    const deadline = Date.now() + ms
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await sleep(50)
    }
  }
  const createWebhook = (body: unknown, token = user.token) => api.postJson('/api/webhooks', body, { token })
  const deliveries = async (id: string): Promise<WebhookDeliveryDTO[]> => (await api.api(`/api/webhooks/${id}/deliveries`, { token: user.token })).json()
  /** The path and query of an app link in a message, to be fetched from this test server. */
  const local = (href: string) => {
    const url = new URL(href)
    expect(url.origin).toBe(APP_URL)
    return url.pathname + url.search
  }

  beforeAll(() => {
    db = createDb(suite.env.DATABASE_URL!, { max: 2 })
    api = client(suite.url)
    user = suite.demo.users[0]!
    other = suite.demo.users[1]!
  })
  afterAll(async () => {
    await db?.$disconnect()
  })

  it('settings: both channels on by default, PATCH changes only what it names, validation and auth', async () => {
    expect((await api.api('/api/notifications/settings')).status).toBe(401)
    const res = await api.api('/api/notifications/settings', { token: user.token })
    expect(res.status).toBe(200)
    const on = { completed: true, failed: true, schedule_paused: true, available: true, unavailable_reason: null }
    expect(await res.json()).toEqual({
      telegram: { ...on, available: false, unavailable_reason: 'This server has no Telegram bot set up (TELEGRAM_BOT_TOKEN).' },
      email: { ...on, address: user.email },
      slack: { ...on, webhook_url: null }
    })
    expect(await (await api.api('/api/notifications/channels', { token: user.token })).json()).toEqual({ telegram: false, email: true, webhooks: true, slack: true })
    const patch = (body: unknown) => api.api('/api/notifications/settings', { method: 'PATCH', token: user.token, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const patched = await patch({ telegram: { failed: false } })
    expect(patched.status).toBe(200)
    expect(await patched.json()).toMatchObject({ telegram: { completed: true, failed: false }, email: { completed: true, failed: true } })
    expect((await patch({ email: { completed: 'yes' } })).status).toBe(400)
    expect((await patch({ sms: {} })).status).toBe(400)
    expect((await patch({ telegram: { failed: true } })).status).toBe(200)
    const paused = await patch({ email: { schedule_paused: false } })
    expect(await paused.json()).toMatchObject({ email: { completed: true, failed: true, schedule_paused: false } })
    expect((await patch({ email: { schedule_paused: 'no' } })).status).toBe(400)
    expect((await patch({ email: { schedule_paused: true } })).status).toBe(200)
  })

  it('creates a webhook: 201 with the secret once; listed without it; another user gets 404', async () => {
    const res = await createWebhook({ url: `${receiverUrl}/main`, events: ['export.completed', 'export.failed'], description: 'main' })
    expect(res.status).toBe(201)
    endpoint = await res.json()
    expect(endpoint).toMatchObject({ url: `${receiverUrl}/main`, events: ['export.completed', 'export.failed'], description: 'main', enabled: true, secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/=]{32}$/) })
    const list = await (await api.api('/api/webhooks', { token: user.token })).json()
    expect(list).toEqual([expect.objectContaining({ id: endpoint.id })])
    expect(list[0]).not.toHaveProperty('secret')
    expect((await api.api(`/api/webhooks/${endpoint.id}/deliveries`, { token: other.token })).status).toBe(404)
    expect((await api.postJson(`/api/webhooks/${endpoint.id}/test`, {}, { token: other.token })).status).toBe(404)
    expect((await api.api(`/api/webhooks/${endpoint.id}`, { method: 'DELETE', token: other.token })).status).toBe(404)
    expect((await api.api('/api/webhooks', { token: other.token })).status).toBe(200)
  })

  it('refuses private, loopback and plain-http URLs at creation (400 naming url)', async () => {
    for (const url of ['http://10.0.0.1/hook', 'https://10.0.0.1/hook', 'https://169.254.169.254/latest/meta-data', 'https://[::1]/x', 'https://localhost/x', 'http://example.com/x', 'ftp://example.com/']) {
      const res = await createWebhook({ url, events: ['export.completed'] })
      expect(res.status, url).toBe(400)
      const body = await res.json()
      expect(body.data.errors.map((e: { field: string }) => e.field), url).toEqual(['url'])
    }
    expect((await createWebhook({ url: `${receiverUrl}/x`, events: ['export.nope'] })).status).toBe(400)
  })

  it('one export: exactly one email and one signed delivery; the link in both downloads the same bytes', async () => {
    // A user-supplied name with markup, to see the escaping hold in the email.
    await db.account.update({ where: { id: user.account_ids[0]! }, data: { name: '<b>Acme & "Co"</b>' } })
    const before = mailsTo(user.email).length
    const id = await api.createExport(user.token, { dataset_id: TRANSACTIONS.id, format: 'csv', account_ids: [user.account_ids[0]] })
    const job = await api.waitForExport(user.token, id)
    expect(job.status).toBe('completed')
    await waitFor(() => mailsTo(user.email).length > before && hitsAt('/main').length > 0, 'the email and the delivery')
    await sleep(1000)
    const mine = mailsTo(user.email).slice(before)
    expect(mine).toHaveLength(1)
    expect(hitsAt('/main')).toHaveLength(1)

    const mail = mine[0]!
    expect(mail.subject).toBe(`Export ready: ${TRANSACTIONS.title}`)
    expect(mail.from?.value).toEqual([{ name: 'Outport', address: 'noreply@outport.example' }])
    expect(mail.text).toContain('Accounts: <b>Acme & "Co"</b>')
    expect(mail.html).toContain('&lt;b&gt;Acme &amp; &quot;Co&quot;&lt;/b&gt;')
    expect(mail.html).not.toContain('<b>Acme')
    expect(mail.html).toContain(`href="${APP_URL}/settings/notifications"`)
    const textLink = /Download: (\S+)/.exec(mail.text!)![1]!
    const htmlLink = /<a href="([^"]+)">Download<\/a>/.exec(mail.html as string)![1]!.replaceAll('&amp;', '&')
    expect(htmlLink).toBe(textLink)

    const presigned = Buffer.from(await (await fetch(job.download_url!)).arrayBuffer())
    const viaEmail = await api.api(local(textLink))
    expect(viaEmail.status).toBe(302)
    const fromEmail = Buffer.from(await (await fetch(viaEmail.headers.get('location')!)).arrayBuffer())
    expect(fromEmail.equals(presigned)).toBe(true)
    expect(createHash('sha256').update(fromEmail).digest('hex')).toBe(job.checksum_sha256)

    const hit = hitsAt('/main')[0]!
    const payload = new Webhook(endpoint.secret).verify(hit.body, hit.headers as Record<string, string>) as { type: string, timestamp: string, data: Record<string, unknown> }
    expect(hit.headers['webhook-id']).toMatch(/^msg_/)
    expect(payload.type).toBe('export.completed')
    expect(payload.data).toMatchObject({ job_id: id, status: 'completed', row_count: job.row_count, checksum_sha256: job.checksum_sha256, download_link: textLink })
    expect(payload.data).not.toHaveProperty('download_url')
    const viaWebhook = await api.api(local(payload.data.download_link as string))
    const fromWebhook = Buffer.from(await (await fetch(viaWebhook.headers.get('location')!)).arrayBuffer())
    expect(fromWebhook.equals(presigned)).toBe(true)
    expect(() => new Webhook(`whsec_${Buffer.alloc(24, 1).toString('base64')}`).verify(hit.body, hit.headers as Record<string, string>)).toThrow()

    const list = await deliveries(endpoint.id)
    expect(list[0]).toMatchObject({ event: 'export.completed', status: 'delivered', status_code: 200, attempts: 1, error: null })
  })

  it('a failed export: one email naming the reason (escaped) and an export.failed delivery', async () => {
    const before = mailsTo(user.email).length
    const hitsBefore = hitsAt('/main').length
    const job = await createExportJob(db, user.user_id, {
      dataset_id: '00000000-0000-4000-8000-00000000dead',
      dataset_name: 'fct_<gone> & co',
      format: 'parquet',
      filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }
    })
    expect((await api.waitForExport(user.token, job.id)).status).toBe('failed')
    await waitFor(() => mailsTo(user.email).length > before && hitsAt('/main').length > hitsBefore, 'failure email and delivery')
    const mail = mailsTo(user.email).at(-1)!
    expect(mail.subject).toBe('Export failed: fct_<gone> & co')
    expect(mail.html).toContain('fct_&lt;gone&gt; &amp; co')
    expect(mail.text).toContain('Open Outport to try again: https://outport.example/analytics/datasets?export=')
    const hit = hitsAt('/main').at(-1)!
    expect(new Webhook(endpoint.secret).verify(hit.body, hit.headers as Record<string, string>)).toMatchObject({ type: 'export.failed', data: { job_id: job.id, status: 'failed' } })
  })

  it('a receiver answering 500 twice then 200 gets three attempts with one webhook-id', async () => {
    scripts.set('/flaky', [500, 500, 200])
    const flaky: CreatedWebhookDTO = await (await createWebhook({ url: `${receiverUrl}/flaky`, events: ['schedule.paused'] })).json()
    const res = await api.postJson(`/api/webhooks/${flaky.id}/test`, {}, { token: user.token })
    expect(res.status).toBe(202)
    const ping: WebhookDeliveryDTO = await res.json()
    await waitFor(async () => (await deliveries(flaky.id))[0]?.status === 'delivered', 'the ping')
    const attempts = hitsAt('/flaky')
    expect(attempts).toHaveLength(3)
    expect(new Set(attempts.map(a => a.headers['webhook-id']))).toEqual(new Set([ping.id]))
    for (const a of attempts) expect(new Webhook(flaky.secret).verify(a.body, a.headers as Record<string, string>)).toMatchObject({ type: 'ping' })
    expect((await deliveries(flaky.id))[0]).toMatchObject({ id: ping.id, attempts: 3, status_code: 200 })

    // Redelivery: the same webhook-id again.
    const again = await api.postJson(`/api/webhooks/${flaky.id}/deliveries/${ping.id}/redeliver`, {}, { token: user.token })
    expect(again.status).toBe(202)
    await waitFor(() => hitsAt('/flaky').length === 4, 'the redelivery')
    expect(hitsAt('/flaky')[3]!.headers['webhook-id']).toBe(ping.id)
    expect((await api.postJson(`/api/webhooks/${flaky.id}/deliveries/msg_nope/redeliver`, {}, { token: user.token })).status).toBe(404)
    expect((await api.api(`/api/webhooks/${flaky.id}`, { method: 'DELETE', token: user.token })).status).toBe(204)
  })

  it('refuses at send time a name that resolves to loopback without the allow-list (nothing arrives)', async () => {
    // As if "hooks.example" had pointed elsewhere at creation and now resolves to 127.0.0.1.
    const port = new URL(receiverUrl).port
    const sneaky = await db.webhookEndpoint.create({ data: { userId: user.user_id, url: `https://localhost:${port}/sneaky`, secret: endpoint.secret, events: ['export.completed'] } })
    const res = await api.postJson(`/api/webhooks/${sneaky.id}/test`, {}, { token: user.token })
    expect(res.status).toBe(202)
    await waitFor(async () => (await deliveries(sneaky.id))[0]?.error !== null, 'the refused attempt')
    expect((await deliveries(sneaky.id))[0]).toMatchObject({ status: expect.stringMatching(/^(pending|failed)$/), status_code: null, error: expect.stringMatching(/refused: resolves to a private or reserved address/) })
    expect(hitsAt('/sneaky')).toHaveLength(0)
    await db.webhookEndpoint.delete({ where: { id: sneaky.id } })
  })

  it('scheduled runs: email and webhook name the schedule; the schedule\'s channels override the settings; schedule.paused', async () => {
    const sched: CreatedWebhookDTO = await (await createWebhook({ url: `${receiverUrl}/sched`, events: ['export.completed', 'export.failed', 'schedule.paused'] })).json()
    const events = () => hitsAt('/sched').map(h => new Webhook(sched.secret).verify(h.body, h.headers as Record<string, string>) as { type: string, data: Record<string, unknown> })
    const cadence = { frequency: 'daily', time: '08:00', time_zone: 'Europe/London' }
    const created = await api.postJson('/api/analytics/schedules', { dataset_id: TRANSACTIONS.id, format: 'csv', compression: 'gzip', range: 'all_dates', cadence, name: 'Nightly <b> & co' }, { token: user.token })
    expect(created.status).toBe(201)
    const schedule = await created.json() as ScheduleDTO
    expect(schedule.channels).toBeNull()
    const runNow = async () => {
      const res = await api.postJson(`/api/analytics/schedules/${schedule.id}/run`, {}, { token: user.token })
      expect(res.status).toBe(202)
      return (await res.json()).job_id as string
    }

    // No channels chosen: the user's settings (email on), and the webhook.
    let before = mailsTo(user.email).length
    const first = await runNow()
    expect((await api.waitForExport(user.token, first)).status).toBe('completed')
    await waitFor(() => mailsTo(user.email).length > before && events().length === 1, 'the scheduled run\'s email and delivery')
    const mail = mailsTo(user.email).at(-1)!
    expect(mail.subject).toBe(`Export ready: ${TRANSACTIONS.title} (schedule “Nightly <b> & co”)`)
    expect(mail.text).toContain('Schedule: Nightly <b> & co (run now)')
    expect(mail.text).toContain('Format: CSV (gzip)')
    expect(mail.html).toContain('Nightly &lt;b&gt; &amp; co')
    expect(mail.html).not.toContain('Nightly <b>')
    expect(events()[0]).toMatchObject({ type: 'export.completed', data: { job_id: first, schedule_id: schedule.id, schedule_name: 'Nightly <b> & co', schedule_run: { name: 'Nightly <b> & co', trigger: 'run_now' }, compression: 'gzip' } })

    // The schedule turns email off for its runs: the webhook still goes out, no email.
    const patched = await api.api(`/api/analytics/schedules/${schedule.id}`, { method: 'PATCH', token: user.token, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channels: { email: false } }) })
    expect(patched.status).toBe(200)
    expect((await patched.json()).channels).toEqual({ email: false })
    expect((await (await api.api(`/api/analytics/schedules/${schedule.id}`, { token: user.token })).json()).channels).toEqual({ email: false })
    before = mailsTo(user.email).length
    const second = await runNow()
    expect((await api.waitForExport(user.token, second)).status).toBe('completed')
    await waitFor(() => events().length === 2, 'the second delivery')
    await sleep(1500)
    expect(mailsTo(user.email).length).toBe(before)

    // Webhooks off, email on: an email, no delivery.
    expect((await api.api(`/api/analytics/schedules/${schedule.id}`, { method: 'PATCH', token: user.token, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channels: { email: true, webhooks: false } }) })).status).toBe(200)
    const third = await runNow()
    expect((await api.waitForExport(user.token, third)).status).toBe('completed')
    await waitFor(() => mailsTo(user.email).length > before, 'the third run\'s email')
    await sleep(1500)
    expect(events()).toHaveLength(2)
    expect((await api.postJson('/api/analytics/schedules', { dataset_id: TRANSACTIONS.id, format: 'csv', range: 'all_dates', cadence, channels: { sms: true } }, { token: user.token })).status).toBe(400)

    // A schedule whose runs keep failing pauses itself (SCHEDULES_DISABLE_AFTER_FAILURES=2 here): schedule.paused.
    const account = await db.account.create({ data: { userId: user.user_id, name: 'Closed' } })
    const failing = await (await api.postJson('/api/analytics/schedules', { dataset_id: TRANSACTIONS.id, format: 'csv', range: 'all_dates', cadence, name: 'Doomed', account_ids: [account.id], channels: { email: false } }, { token: user.token })).json() as ScheduleDTO
    await db.account.delete({ where: { id: account.id } })
    for (let i = 0; i < 2; i++) {
      const res = await api.postJson(`/api/analytics/schedules/${failing.id}/run`, {}, { token: user.token })
      expect((await res.json()).status).toBe('failed')
    }
    // Deliveries are independent: the pause can arrive before the second run's export.failed.
    await waitFor(() => events().some(e => e.type === 'schedule.paused') && events().filter(e => e.type === 'export.failed').length === 2, 'schedule.paused and both failures')
    const paused = events().filter(e => e.type === 'schedule.paused')
    expect(paused).toHaveLength(1)
    expect(paused[0]!.data).toMatchObject({ id: failing.id, name: 'Doomed', enabled: false, next_run_at: null, paused_reason: 'Paused after 2 failed runs in a row', failures: 2, last_error: expect.stringMatching(/accounts no longer exist/), schedules_link: `${APP_URL}/analytics/schedules` })
    expect(events().filter(e => e.type === 'export.failed')).toHaveLength(2)
    await api.api(`/api/analytics/schedules/${schedule.id}`, { method: 'DELETE', token: user.token })
    await api.api(`/api/analytics/schedules/${failing.id}`, { method: 'DELETE', token: user.token })
    await api.api(`/api/webhooks/${sched.id}`, { method: 'DELETE', token: user.token })
  })

  it('turning email off stops the emails (webhooks still go out)', async () => {
    const off = await api.api('/api/notifications/settings', { method: 'PATCH', token: user.token, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: { completed: false } }) })
    expect((await off.json()).email).toMatchObject({ completed: false, failed: true })
    const before = mailsTo(user.email).length
    const hitsBefore = hitsAt('/main').length
    const id = await api.createExport(user.token, { dataset_id: TRANSACTIONS.id, format: 'csv' })
    expect((await api.waitForExport(user.token, id)).status).toBe('completed')
    await waitFor(() => hitsAt('/main').length > hitsBefore, 'the delivery')
    await sleep(1500)
    expect(mailsTo(user.email).length).toBe(before)
  })

  it('a tarpit endpoint with thousands of pending pings holds one delivery slot: another user\'s export.completed still arrives within 10 s', async () => {
    // Accepts every connection and never answers: each attempt there lasts the 10 s timeout.
    const held = new Set<Socket>()
    const tarpit = createTcpServer((socket) => {
      held.add(socket)
      socket.on('close', () => held.delete(socket))
      socket.on('error', () => {})
    })
    await new Promise<void>(r => tarpit.listen(0, '127.0.0.1', r))
    const created = await createWebhook({ url: `http://127.0.0.1:${(tarpit.address() as AddressInfo).port}/tarpit`, events: ['export.completed'] }, other.token)
    const slow: CreatedWebhookDTO = await created.json()
    try {
      // Queued before anyone else's, as if `other` had clicked "test" for an hour.
      await db.$executeRaw`
        INSERT INTO webhook_deliveries (id, endpoint_id, event_type, payload, status, next_attempt_at)
        SELECT 'msg_tarpit' || n, ${slow.id}::uuid, 'ping', '{"type":"ping","data":{}}'::jsonb, 'pending', now() - interval '1 hour' + n * interval '1 ms'
        FROM generate_series(1, 3000) n`
      // Beyond WEBHOOK_MAX_PENDING_PER_ENDPOINT (1000): no more by hand.
      expect((await api.postJson(`/api/webhooks/${slow.id}/test`, {}, { token: other.token })).status).toBe(409)
      await waitFor(() => held.size > 0, 'the tarpit to be tried')

      const hitsBefore = hitsAt('/main').length
      const id = await api.createExport(user.token, { dataset_id: TRANSACTIONS.id, format: 'csv' })
      expect((await api.waitForExport(user.token, id)).status).toBe('completed')
      await waitFor(() => hitsAt('/main').length > hitsBefore, 'the export.completed delivery', 10_000)
      const hit = hitsAt('/main').at(-1)!
      expect(new Webhook(endpoint.secret).verify(hit.body, hit.headers as Record<string, string>)).toMatchObject({ type: 'export.completed', data: { job_id: id } })
      expect(held.size).toBeLessThanOrEqual(1)
    } finally {
      await db.webhookEndpoint.delete({ where: { id: slow.id } })
      for (const socket of held) socket.destroy()
      await new Promise<void>(r => tarpit.close(() => r()))
    }
  }, 90_000)

  it('a webhook added or removed and the settings changed: audited, and the user told on their other channels', async () => {
    const host = new URL(receiverUrl).host
    const alertsSince = (n: number) => alertsTo(user.email).slice(n).map(m => m.text ?? '')
    let before = alertsTo(user.email).length
    const res = await createWebhook({ url: `${receiverUrl}/alerted?key=s3cret-key`, events: ['export.failed'] })
    expect(res.status).toBe(201)
    const hook: CreatedWebhookDTO = await res.json()
    await waitFor(() => alertsTo(user.email).length > before, 'the alert for the added webhook')
    const [added] = alertsSince(before)
    expect(added).toContain(`A webhook to ${host} was added to your account.`)
    expect(added).toContain(`Activity: ${APP_URL}/activity`)
    expect(added).not.toContain('s3cret-key')

    before = alertsTo(user.email).length
    expect((await api.api(`/api/webhooks/${hook.id}`, { method: 'DELETE', token: user.token })).status).toBe(204)
    await waitFor(() => alertsTo(user.email).length > before, 'the alert for the removed webhook')
    expect(alertsSince(before)[0]).toContain(`The webhook to ${host} was removed from your account.`)

    // Email's own settings are not told by email (the channel they concern); Telegram's are.
    before = alertsTo(user.email).length
    const patch = (body: unknown) => api.api('/api/notifications/settings', { method: 'PATCH', token: user.token, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect((await patch({ email: { failed: false } })).status).toBe(200)
    expect((await patch({ telegram: { completed: false } })).status).toBe(200)
    await waitFor(() => alertsTo(user.email).length > before, 'the alert for the settings')
    await sleep(1000)
    expect(alertsSince(before)).toHaveLength(1)
    expect(alertsSince(before)[0]).toContain('Your notification settings were changed: Telegram: completed exports off.')
    expect((await patch({ email: { failed: true }, telegram: { completed: true } })).status).toBe(200)

    const token = (await db.apiToken.findFirstOrThrow({ where: { userId: user.user_id, name: 'demo' } })).id
    const { events } = await (await api.api('/api/audit?limit=20', { token: user.token })).json() as { events: Array<{ action: string, object_id: string | null, token_id: string | null, details: Record<string, unknown> }> }
    expect(events.find(e => e.action === 'webhook.created')).toMatchObject({ object_id: hook.id, token_id: token, details: { host, events: ['export.failed'] } })
    expect(events.find(e => e.action === 'webhook.deleted')).toMatchObject({ object_id: hook.id, details: { host } })
    expect(events.filter(e => e.action === 'notifications.updated').slice(0, 3).map(e => e.details.changes)).toEqual([
      ['Telegram: completed exports on', 'Email: failed exports on'],
      ['Telegram: completed exports off'],
      ['Email: failed exports off']
    ])
    expect(JSON.stringify(events)).not.toContain('s3cret-key')
  })

  it('up to WEBHOOKS_MAX_PER_USER endpoints a user (409 beyond)', async () => {
    const existing = (await (await api.api('/api/webhooks', { token: other.token })).json()).length
    for (let i = existing; i < 10; i++) expect((await createWebhook({ url: `${receiverUrl}/n${i}`, events: ['export.failed'] }, other.token)).status).toBe(201)
    expect((await createWebhook({ url: `${receiverUrl}/n10`, events: ['export.failed'] }, other.token)).status).toBe(409)
  })

  describe('Slack, through an incoming-webhook URL', () => {
    const patchSlack = (slackPatch: unknown) => api.api('/api/notifications/settings', { method: 'PATCH', token: other.token, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ slack: slackPatch }) })
    const postsSince = (n: number) => slack.posts.slice(n)
    const field = (post: FakeSlack['posts'][number], name: string) => post.body.blocks!.flatMap(b => b.fields ?? []).find((f: { text: string }) => f.text.startsWith(`*${name}*`))?.text.split('\n')[1]

    it('takes only https Slack URLs (or allow-listed hosts), stores them sealed and never shows the secret path', async () => {
      const refused = await patchSlack({ webhook_url: 'https://evil.example/services/x' })
      expect(refused.status).toBe(400)
      expect((await refused.json()).data.errors).toEqual([{ field: 'slack.webhook_url', message: expect.stringMatching(/Slack incoming-webhook URL/) }])
      expect((await patchSlack({ webhook_url: 'http://hooks.slack.com/services/T/B/x' })).status).toBe(400)
      expect((await patchSlack({ webhook_url: 'not a url' })).status).toBe(400)
      expect((await (await api.api('/api/notifications/settings', { token: other.token })).json()).slack.webhook_url).toBeNull()

      const saved = await patchSlack({ webhook_url: slack.hookUrl })
      expect(saved.status).toBe(200)
      const shown = (await saved.json()).slack
      expect(shown).toEqual({ completed: true, failed: true, schedule_paused: true, available: true, unavailable_reason: null, webhook_url: `${slack.url}/…${slack.hookUrl.slice(-4)}` })
      const stored = await db.notificationSettings.findUniqueOrThrow({ where: { userId: other.user_id } })
      expect(stored.slackWebhookUrl).toMatch(/^v1\./)
      expect(stored.slackWebhookUrl).not.toContain('xoxSECRET')
      // Another user's settings are their own.
      expect((await (await api.api('/api/notifications/settings', { token: user.token })).json()).slack.webhook_url).toBeNull()
    })

    it('a completed export posts one Block Kit message whose Download button fetches the file; a failed one names its reason', async () => {
      const before = slack.posts.length
      const id = await api.createExport(other.token, { dataset_id: TRANSACTIONS.id, format: 'csv' })
      const done = await api.waitForExport(other.token, id)
      expect(done.status).toBe('completed')
      await waitFor(() => postsSince(before).length === 1, 'the Slack post')
      const [post] = postsSince(before)
      expect(post!.contentType).toBe('application/json')
      expect(post!.body.text).toMatch(/^Export ready: Transactions/)
      expect(post!.body.blocks![0]).toEqual({ type: 'header', text: { type: 'plain_text', text: '✅ Export ready: Transactions', emoji: true } })
      expect(field(post!, 'Format')).toBe('CSV')
      expect(field(post!, 'Rows')).toBe(done.row_count!.toLocaleString('en-US'))
      const button = post!.body.blocks!.find(b => b.type === 'actions')!.elements[0]
      expect(button.text.text).toBe('Download')
      const link = await api.api(local(button.url))
      expect(link.status).toBe(302)
      const file = Buffer.from(await (await fetch(link.headers.get('location')!)).arrayBuffer())
      expect(createHash('sha256').update(file).digest('hex')).toBe(done.checksum_sha256)

      const failedBefore = slack.posts.length
      const job = await createExportJob(db, other.user_id, {
        dataset_id: '00000000-0000-4000-8000-00000000dead',
        dataset_name: 'fct_<gone> & co',
        format: 'csv',
        filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }
      })
      expect((await api.waitForExport(other.token, job.id)).status).toBe('failed')
      await waitFor(() => postsSince(failedBefore).length === 1, 'the failure post')
      const failure = postsSince(failedBefore)[0]!
      expect(failure.body.blocks![0]!.text.text).toBe('❌ Export failed: fct_<gone> & co')
      // mrkdwn: the three characters Slack wants escaped are.
      expect(field(failure, 'Format')).toBe('CSV')
      expect(field(failure, 'Reason')).toMatch(/\S/)
      expect(failure.body.blocks!.find(b => b.type === 'actions')!.elements[0].url).toMatch(new RegExp(`^${APP_URL}/analytics/datasets\\?export=.*&job=${job.id}$`))
      // The secret path of the URL is in no log line.
      expect(suite.server.output()).not.toContain('xoxSECRET')
    })

    it('waits out a 429 and retries a 500; the settings decide per outcome', async () => {
      slack.script([429, 'rate_limited', 1], [500, 'internal_error'])
      const before = slack.posts.length
      const id = await api.createExport(other.token, { dataset_id: TRANSACTIONS.id, format: 'parquet' })
      expect((await api.waitForExport(other.token, id)).status).toBe('completed')
      await waitFor(() => postsSince(before).length === 3, 'two failed attempts and the post', 30_000)
      await sleep(1000)
      expect(postsSince(before)).toHaveLength(3)
      expect(new Set(postsSince(before).map(p => JSON.stringify(p.body))).size).toBe(1)

      expect((await (await patchSlack({ completed: false })).json()).slack).toMatchObject({ completed: false, failed: true })
      const quiet = slack.posts.length
      const next = await api.createExport(other.token, { dataset_id: TRANSACTIONS.id, format: 'csv' })
      expect((await api.waitForExport(other.token, next)).status).toBe('completed')
      await sleep(1500)
      expect(slack.posts.length).toBe(quiet)
      expect((await patchSlack({ completed: true })).status).toBe(200)
    })

    it('a URL Slack says is gone (404 no_service) is removed, and nothing more is sent to it', async () => {
      slack.script([404, 'no_service'])
      const id = await api.createExport(other.token, { dataset_id: TRANSACTIONS.id, format: 'csv' })
      expect((await api.waitForExport(other.token, id)).status).toBe('completed')
      await waitFor(async () => (await (await api.api('/api/notifications/settings', { token: other.token })).json()).slack.webhook_url === null, 'the URL removed')
      expect(suite.server.output()).toMatch(/Slack answered 404 no_service .*removed/)
      expect(suite.server.output()).not.toContain('xoxSECRET')
    })
  })
})
