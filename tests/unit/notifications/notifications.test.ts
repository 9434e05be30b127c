import { describe, expect, it } from 'vitest'
import { accountChangedEmail, exportEmail } from '#server/lib/notifications/channels/email'
import { eventWanted, settingsChanges } from '#server/lib/notifications/settings'
import type { Db } from '#server/lib/db/client'
import type { JobNews } from '#server/lib/notifications/summary'
import { checkUrlShape, isBlockedAddress, vetUrl } from '#server/lib/notifications/webhooks/address'
import { newMessageId } from '#server/lib/notifications/webhooks/queue'
import type { ExportJob } from '#server/lib/exports/jobs/record'

describe('webhook address checks', () => {
  it.each([
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '224.0.0.1', '255.255.255.255',
    '::1', '::', 'fe80::1', 'fd12:3456::1', 'fc00::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '0:0:0:0:0:ffff:169.254.169.254', 'not-an-ip'
  ])('refuses %s', (address) => {
    expect(isBlockedAddress(address)).toBe(true)
  })

  // IPv6 forms that carry an IPv4 address inside: IPv4-compatible ::/96 and 6to4 2002::/16 (2002:7f00:1:: is 127.0.0.1's).
  it.each(['::127.0.0.1', '::7f00:1', '::a9fe:a9fe', '::8.8.8.8', '2002:7f00:1::', '2002:a9fe:a9fe::1', '2002:808:808::1'])('refuses %s', (address) => {
    expect(isBlockedAddress(address)).toBe(true)
  })

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])('allows %s', (address) => {
    expect(isBlockedAddress(address)).toBe(false)
  })

  it('wants https, or http only to an allowed host; no credentials in the URL', () => {
    expect(() => checkUrlShape('http://example.com/hook', { allowHosts: [] })).toThrow(/https/)
    expect(() => checkUrlShape('ftp://example.com/hook', { allowHosts: ['example.com'] })).toThrow(/https/)
    expect(checkUrlShape('http://127.0.0.1:9/x', { allowHosts: ['127.0.0.1'] }).port).toBe('9')
    expect(() => checkUrlShape('https://u:p@example.com/', { allowHosts: [] })).toThrow(/credentials/)
  })

  it('checks every address a name resolves to, after DNS; the allow-list lifts it', async () => {
    const resolve = (async () => [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.5', family: 4 }]) as never
    await expect(vetUrl('https://rebind.example/hook', { allowHosts: [] }, resolve)).rejects.toThrow(/private or reserved address \(10\.0\.0\.5\)/)
    await expect(vetUrl('https://rebind.example/hook', { allowHosts: ['rebind.example'] }, resolve)).resolves.toMatchObject({ address: '93.184.216.34' })
    await expect(vetUrl('https://[::1]/hook', { allowHosts: [] })).rejects.toThrow(/private/)
    await expect(vetUrl('https://169.254.169.254/latest', { allowHosts: [] })).rejects.toThrow(/private/)
  })
})

describe('webhook message ids', () => {
  it('message ids are msg_ + 26 base32 characters, all different', () => {
    const ids = Array.from({ length: 1000 }, newMessageId)
    expect(ids.every(id => /^msg_[0-9A-HJKMNP-TV-Z]{26}$/.test(id))).toBe(true)
    expect(new Set(ids).size).toBe(1000)
  })
})

describe('export emails', () => {
  const job = { id: 'a0000000-0000-4000-8000-000000000001', metadata: { dataset_id: 'd', dataset_name: 'fct', format: 'csv', filters: { start_date: '2026-01-01', end_date: '2026-02-01', account_ids: ['x'], tag_ids: [] } } } as unknown as ExportJob
  const news: JobNews = {
    job,
    outcome: 'completed',
    datasetTitle: 'Transactions <b>&',
    formatLabel: 'CSV (gzip)',
    accountNames: new Map([['x', '<script>alert(1)</script>']]),
    tagNames: new Map(),
    schedule: { name: 'Nightly "<img src=x>"', trigger: 'cadence', missed_slots: 2 },
    rowCount: 1234,
    rowsText: '1,234',
    sizeBytes: 2048,
    downloadUrl: 'https://outport.example/exports/a/download?token=1.abc&x=<y>',
    expiresAt: new Date('2026-12-01T10:00:00Z'),
    reason: null,
    retryUrl: 'https://outport.example/analytics/datasets',
    deliveries: [
      { destination_id: null, name: 'Lake', type: 's3', status: 'delivered', attempts: 1, location: 's3://lake/fct/<x>.csv', error: null, delivered_at: '2026-12-01T10:00:00.000Z', next_attempt_at: null },
      { destination_id: null, name: 'Vendor <sftp>', type: 'sftp', status: 'failed', attempts: 6, location: null, error: 'refused', delivered_at: null, next_attempt_at: null }
    ]
  }

  it('say where the file went and which delivery failed, escaped', () => {
    const m = exportEmail(news, 'https://outport.example')
    expect(m.text).toContain('Destination: Delivered to s3://lake/fct/<x>.csv')
    expect(m.text).toContain('Destination: Delivery to Vendor <sftp> failed: refused')
    expect(m.html).toContain('Vendor &lt;sftp&gt;')
  })

  it('escapes every user-supplied value in the HTML part, keeps the text part plain', () => {
    const m = exportEmail(news, 'https://outport.example')
    expect(m.subject).toBe('Export ready: Transactions <b>& (schedule “Nightly "<img src=x>"”)')
    expect(m.html).not.toContain('<script>')
    expect(m.html).not.toContain('<img')
    expect(m.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(m.html).toContain('Transactions &lt;b&gt;&amp;')
    expect(m.html).toContain('href="https://outport.example/exports/a/download?token=1.abc&amp;x=&lt;y&gt;"')
    expect(m.html).toContain('href="https://outport.example/settings/notifications"')
    expect(m.text).toContain('Accounts: <script>alert(1)</script>')
    expect(m.text).toContain('Download: https://outport.example/exports/a/download?token=1.abc&x=<y>')
    expect(m.text).toContain('Schedule: Nightly "<img src=x>"\nCatch-up run: 2 earlier runs were skipped while the server was down\nFormat: CSV (gzip)')
    expect(m.html).toContain('Nightly &quot;&lt;img src=x&gt;&quot;')
    expect(m.text).toContain('Rows: 1,234')
    expect(m.text).toContain('Notification settings: https://outport.example/settings/notifications')
  })

  it('a failure names the reason and links back to the app; subjects carry no line breaks', () => {
    const m = exportEmail({ ...news, outcome: 'failed', datasetTitle: 'A\r\nBcc: x@evil', reason: 'Boom <x>', downloadUrl: null, schedule: null }, 'https://outport.example/')
    expect(m.subject).toBe('Export failed: A Bcc: x@evil')
    expect(m.html).toContain('Boom &lt;x&gt;')
    expect(m.text).toContain('Reason: Boom <x>')
    expect(m.text).toContain('Open Outport to try again: https://outport.example/analytics/datasets')
  })
})

describe('sealed secrets', () => {
  it('round-trips, and refuses another key or an altered value', async () => {
    const { seal, secretsKey, unseal } = await import('#server/lib/secrets')
    const key = secretsKey('x'.repeat(40))
    const sealed = seal(key, 'https://hooks.slack.com/services/T/B/secret')
    expect(sealed).toMatch(/^v1\./)
    expect(sealed).not.toContain('secret')
    expect(unseal(key, sealed)).toBe('https://hooks.slack.com/services/T/B/secret')
    expect(seal(key, 'same')).not.toBe(seal(key, 'same'))
    expect(unseal(secretsKey('y'.repeat(40)), sealed)).toBeNull()
    const [v, iv, tag, body] = sealed.split('.')
    const altered = Buffer.from(body!, 'base64url')
    altered[0]! ^= 1
    expect(unseal(key, [v, iv, tag, altered.toString('base64url')].join('.'))).toBeNull()
    expect(unseal(key, 'garbage')).toBeNull()
  })
})

describe('Slack messages', () => {
  it('are Block Kit within Slack\'s limits, with mrkdwn escaped and headers cut to 150 characters', async () => {
    const { slackMessage, checkSlackUrl } = await import('#server/lib/notifications/channels/slack')
    const job = { id: 'j', metadata: { format: 'csv', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] } } } as unknown as ExportJob
    const long = 'T'.repeat(300)
    const m = slackMessage({ type: 'export.failed', userId: 'u', news: { job, outcome: 'failed', datasetTitle: long, formatLabel: 'CSV', accountNames: new Map(), tagNames: new Map(), schedule: null, rowCount: 0, rowsText: '0', sizeBytes: 0, downloadUrl: null, expiresAt: null, reason: 'a < b & c > d', retryUrl: 'https://outport.example/r', deliveries: [] } })
    expect(m.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text' } })
    expect((m.blocks[0]!.text as { text: string }).text).toHaveLength(150)
    expect(JSON.stringify(m.blocks[1])).toContain('a &lt; b &amp; c &gt; d')
    expect(m.text).toContain('a < b & c > d')
    expect(checkSlackUrl('https://hooks.slack.com/services/T/B/x', { allowHosts: [] }).host).toBe('hooks.slack.com')
    expect(() => checkSlackUrl('https://example.com/services/T/B/x', { allowHosts: [] })).toThrow(/Slack incoming-webhook URL/)
    expect(checkSlackUrl('http://127.0.0.1:9/services/x', { allowHosts: ['127.0.0.1'] }).port).toBe('9')
  })
})

describe('account changes', () => {
  const change = { what: 'A webhook to <hooks.example.com> was added to your account', about: ['webhook' as const], activityLink: 'https://outport.example/activity' }

  it('say what changed and where to see who did it, escaped in HTML; Slack and Telegram carry them too', async () => {
    const email = accountChangedEmail(change, 'https://outport.example')
    expect(email.subject).toBe('Your Outport account changed')
    expect(email.text).toContain('A webhook to <hooks.example.com> was added to your account.')
    expect(email.text).toContain('Activity: https://outport.example/activity')
    expect(email.html).toContain('A webhook to &lt;hooks.example.com&gt; was added')
    const { slackMessage } = await import('#server/lib/notifications/channels/slack')
    const slack = slackMessage({ type: 'account.changed', userId: 'u', change })
    expect(slack.text).toContain('A webhook to <hooks.example.com> was added to your account')
    expect(JSON.stringify(slack.blocks)).toContain('https://outport.example/activity')
    const { accountChangedMessage } = await import('#server/lib/telegram/messages')
    expect(accountChangedMessage(change.what, change.activityLink)).toContain('&lt;hooks.example.com&gt;')
  })

  it('reach every channel but the ones they are about, whatever the settings say', async () => {
    // No settings are read for an account change: no database is needed.
    const db = null as unknown as Db
    const event = (about: Array<'webhook' | 'telegram' | 'email' | 'slack'>) => ({ type: 'account.changed' as const, userId: 'u', change: { ...change, about } })
    expect(await eventWanted(db, event(['webhook']), 'webhooks')).toBe(false)
    expect(await eventWanted(db, event(['webhook']), 'email')).toBe(true)
    expect(await eventWanted(db, event(['telegram']), 'telegram')).toBe(false)
    expect(await eventWanted(db, event(['telegram']), 'slack')).toBe(true)
    expect(await eventWanted(db, event(['email', 'slack']), 'slack')).toBe(false)
  })

  it('a settings change is described by what it names, a Slack URL by its host only', () => {
    expect(settingsChanges({})).toEqual({ changes: [], channels: [] })
    expect(settingsChanges({ email: { failed: false, address: 'x@example.com' }, slack: { webhook_url: 'https://hooks.slack.com/services/T0/B0/xoxSECRET' } })).toEqual({
      changes: ['Email: failed exports off', 'Slack: now posts to hooks.slack.com'],
      channels: ['email', 'slack']
    })
    expect(settingsChanges({ slack: { webhook_url: null } })).toEqual({ changes: ['Slack: webhook URL removed'], channels: ['slack'] })
  })
})
