import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { expectAccessible, launchBrowser, screenshot, signIn, visit } from '../helpers/browser'
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack'
import { useServerSuite } from '../helpers/suite'

/** The Notifications page on an environment of its own, with a webhook receiver on 127.0.0.1. */
describe('Notifications page', () => {
  const hits: Array<{ headers: IncomingHttpHeaders, body: string }> = []
  let receiver: Server
  let receiverUrl: string
  let slack: FakeSlack
  const suite = useServerSuite({
    name: 'browser-notifications',
    users: 1,
    transactions: 300,
    prepare: async ({ onTeardown }) => {
      receiver = createServer((req, res) => {
        let body = ''
        req.on('data', (c: Buffer) => (body += c))
        req.on('end', () => {
          hits.push({ headers: req.headers, body })
          res.writeHead(200).end()
        })
      })
      await new Promise<void>(r => receiver.listen(0, '127.0.0.1', r))
      receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
      onTeardown(() => new Promise<void>(r => receiver.close(() => r())))
      slack = await startFakeSlack()
      onTeardown(() => slack.close())
    },
    env: { WEBHOOK_ALLOW_HOSTS: '127.0.0.1', SMTP_URL: 'smtp://127.0.0.1:9' }
  })
  let browser: Browser

  beforeAll(async () => {
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('add a webhook → the secret is shown once → send test → the delivery is listed; email switches save', async () => {
    const user = suite.demo.users[0]!
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    try {
      await signIn(page, suite.url, user.email, user.password)
      await page.getByTestId('sidebar').getByRole('link', { name: 'Notifications' }).click()
      await page.waitForURL(url => url.pathname === '/settings/notifications')
      await page.getByTestId('email-address').waitFor()
      expect(await page.getByTestId('email-address').textContent()).toBe(user.email)
      await screenshot(page, '20-notifications-empty')

      // A refused URL is explained next to the field.
      await page.getByTestId('webhook-url').fill('http://10.0.0.1/hook')
      await page.getByTestId('webhook-add').click()
      await page.getByText(/must use https/).waitFor()

      await page.getByTestId('webhook-url').fill(receiverUrl)
      await page.getByTestId('webhook-add').click()
      await page.getByTestId('webhook-secret').waitFor()
      const secret = (await page.getByTestId('webhook-secret-value').textContent())!.trim()
      expect(secret).toMatch(/^whsec_/)
      await screenshot(page, '21-notifications-secret')

      await page.getByTestId('webhook-test').click()
      await page.locator('[data-testid="webhook-delivery"]', { hasText: 'delivered' }).waitFor({ timeout: 20_000 })
      expect(hits).toHaveLength(1)
      expect(new Webhook(secret).verify(hits[0]!.body, hits[0]!.headers as Record<string, string>)).toMatchObject({ type: 'ping' })
      expect(await page.getByTestId('webhook-delivery').first().textContent()).toMatch(/ping.*delivered.*200/)
      await screenshot(page, '22-notifications-delivered')

      // Switching email off for completed exports is saved.
      await page.getByTestId('email-completed').click()
      await expect.poll(async () => (await (await fetch(`${suite.url}/api/notifications/settings`, { headers: { authorization: `Bearer ${user.token}` } })).json()).email.completed).toBe(false)
      // So is the choice for schedules that pause themselves, by keyboard.
      await page.getByTestId('email-schedule-paused').focus()
      await page.keyboard.press('Space')
      await expect.poll(async () => (await (await fetch(`${suite.url}/api/notifications/settings`, { headers: { authorization: `Bearer ${user.token}` } })).json()).email.schedule_paused).toBe(false)

      // Shown once: after a reload the secret is gone, the endpoint stays.
      await visit(page, `${suite.url}/settings/notifications`)
      await page.getByTestId('webhook-row').waitFor()
      expect(await page.getByTestId('webhook-secret').count()).toBe(0)
      expect(await page.content()).not.toContain(secret)

      await page.getByTestId('webhook-delete').click()
      await page.getByText('No webhooks yet.').waitFor()
    } finally {
      await context.close()
    }
  })

  it('Slack at phone width, by keyboard: a wrong URL is explained, the right one is shown masked, switches follow, Remove', async () => {
    const user = suite.demo.users[0]!
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    const page = await context.newPage()
    try {
      await signIn(page, suite.url, user.email, user.password, '/settings/notifications')
      const input = page.getByTestId('slack-url-input')
      await input.waitFor()
      expect(await page.getByTestId('slack-completed').count()).toBe(0)
      await expectAccessible(page, 'notifications: Slack not set up (phone)')

      await input.focus()
      await page.keyboard.type('https://example.com/services/T/B/x')
      await page.keyboard.press('Enter')
      await page.getByText(/Must be a Slack incoming-webhook URL/).waitFor()
      await expectAccessible(page, 'notifications: Slack URL refused (phone)')

      await input.fill('')
      await input.focus()
      await page.keyboard.type(slack.hookUrl)
      await page.keyboard.press('Enter')
      await page.getByTestId('slack-url').waitFor()
      expect(await page.getByTestId('slack-url').textContent()).toBe(`${slack.url}/…${slack.hookUrl.slice(-4)}`)
      expect(await page.content()).not.toContain('xoxSECRET')
      expect(await page.getByTestId('slack-completed').isDisabled()).toBe(false)
      await screenshot(page, '23-notifications-slack-phone')
      await expectAccessible(page, 'notifications: Slack set up (phone)')

      await page.getByTestId('slack-failed').focus()
      await page.keyboard.press('Space')
      await expect.poll(async () => (await (await fetch(`${suite.url}/api/notifications/settings`, { headers: { authorization: `Bearer ${user.token}` } })).json()).slack.failed).toBe(false)

      await page.getByTestId('slack-remove').focus()
      await page.keyboard.press('Enter')
      await expect.poll(() => page.getByTestId('slack-url').count()).toBe(0)
      expect((await (await fetch(`${suite.url}/api/notifications/settings`, { headers: { authorization: `Bearer ${user.token}` } })).json()).slack.webhook_url).toBeNull()
    } finally {
      await context.close()
    }
  })
})
