import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { createDb } from '#server/lib/db/client'
import { createUser } from '#server/lib/users'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { expectAccessible, launchBrowser, screenshot, signIn, visit } from '../helpers/browser'
import { client } from '../helpers/http'
import { useServerSuite } from '../helpers/suite'

const TRANSACTIONS = DATASETS.find(d => d.name === 'fct_transactions')!
const DESKTOP = { width: 1280, height: 900 }
const PHONE = { width: 390, height: 844 }

/**
 * The app's shell (user menu, phone header, running exports and the toast when one finishes), the
 * API reference's loading and failure, unavailable notification channels, Activity's names, links
 * and filter, and the tokens page's empty state. An environment of its own: S3 sits behind a fault
 * proxy whose throttle holds an export running for as long as the test needs, and signing out of
 * every device cannot touch another file's sessions.
 */
describe('the app shell', () => {
  const suite = useServerSuite({
    name: 'browser-shell',
    users: 1,
    transactions: 3000,
    faultProxy: true,
    env: suite => ({ S3_ENDPOINT: suite.proxy.endpoint })
  })
  let browser: Browser
  const contexts: BrowserContext[] = []

  beforeAll(async () => {
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
  })

  async function open(viewport = DESKTOP, colorScheme: 'light' | 'dark' = 'light'): Promise<Page> {
    const context = await browser.newContext({ viewport, colorScheme, acceptDownloads: true })
    contexts.push(context)
    return context.newPage()
  }
  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {})
  })

  /** A user of this test alone, with no exports, tokens or activity. */
  async function freshUser(name: string) {
    const db = createDb(suite.env.DATABASE_URL!, { max: 1 })
    try {
      const email = `${name.toLowerCase().replaceAll(' ', '-')}-${Date.now()}@example.com`
      await createUser(db, { email, password: 'correct horse battery', displayName: name })
      return { email, password: 'correct horse battery' }
    } finally {
      await db.$disconnect()
    }
  }

  it('the user menu by keyboard: theme, and signing out of all devices asks first', async () => {
    const user = await freshUser('Menu Tester')
    const other = await open()
    await signIn(other, suite.url, user.email, user.password)
    const page = await open()
    await signIn(page, suite.url, user.email, user.password)

    const trigger = page.getByTestId('sidebar').getByTestId('user-menu')
    expect(await trigger.textContent()).toContain('Menu Tester')
    await trigger.focus()
    await page.keyboard.press('Enter')
    const menu = page.getByRole('menu')
    await menu.waitFor()
    // The system's theme until one is chosen.
    expect(await menu.getByRole('menuitemcheckbox', { name: 'System' }).getAttribute('aria-checked')).toBe('true')
    await expectAccessible(page, 'user menu open')
    await screenshot(page, 'shell-01-user-menu')

    // Dark, by arrows from the first item.
    const dark = menu.getByRole('menuitemcheckbox', { name: 'Dark' })
    for (let i = 0; i < 5 && !await dark.evaluate(el => el === document.activeElement); i++) await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    await menu.waitFor({ state: 'detached' })
    await expect.poll(() => page.evaluate(() => document.documentElement.classList.contains('dark'))).toBe(true)
    expect(await trigger.evaluate(el => el === document.activeElement)).toBe(true)
    await expectAccessible(page, 'dark theme')
    await screenshot(page, 'shell-02-dark')

    // Back to the system's (light here); the choice outlives a reload.
    await page.keyboard.press('Enter')
    await menu.getByRole('menuitemcheckbox', { name: 'System' }).focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => page.evaluate(() => document.documentElement.classList.contains('dark'))).toBe(false)

    // Signing out of all devices: a confirmation first, Escape keeps everything as it was.
    await trigger.focus()
    await page.keyboard.press('Enter')
    await menu.getByRole('menuitem', { name: 'Sign out of all devices…' }).focus()
    await page.keyboard.press('Enter')
    const dialog = page.getByRole('dialog', { name: 'Sign out of all devices?' })
    await dialog.waitFor()
    await expectAccessible(page, 'sign out of all devices, confirmation')
    await screenshot(page, 'shell-03-sign-out-everywhere')
    await page.keyboard.press('Escape')
    await dialog.waitFor({ state: 'detached' })
    expect(new URL(page.url()).pathname).toBe('/analytics/datasets')

    await trigger.focus()
    await page.keyboard.press('Enter')
    await menu.getByRole('menuitem', { name: 'Sign out of all devices…' }).focus()
    await page.keyboard.press('Enter')
    await dialog.getByTestId('sign-out-everywhere-confirm').focus()
    await page.keyboard.press('Enter')
    await page.waitForURL(/\/login/)
    // The other browser's session ended too.
    await visit(other, `${suite.url}/settings/tokens`)
    await other.waitForURL(/\/login/)
  })

  it('Sign out ends only this session', async () => {
    const user = await freshUser('Plain Sign Out')
    const other = await open()
    await signIn(other, suite.url, user.email, user.password)
    const page = await open()
    await signIn(page, suite.url, user.email, user.password)
    await page.getByTestId('sidebar').getByTestId('user-menu').click()
    await page.getByRole('menuitem', { name: 'Sign out', exact: true }).click()
    await page.waitForURL(/\/login/)
    await visit(other, `${suite.url}/settings/tokens`)
    await other.getByRole('heading', { name: 'API tokens' }).waitFor()
  })

  it('phone: the header holds the menu button, the name and the avatar only', async () => {
    const user = suite.demo.users[0]!
    const page = await open(PHONE)
    await signIn(page, suite.url, user.email, user.password)
    const header = page.locator('header')
    const controls = header.locator('a, button')
    expect(await controls.count()).toBe(3)
    expect(await header.getByTestId('menu-button').isVisible()).toBe(true)
    expect(await header.getByRole('link', { name: 'Outport' }).isVisible()).toBe(true)
    const avatar = header.getByTestId('user-menu')
    expect(await avatar.isVisible()).toBe(true)
    expect((await avatar.boundingBox())!.x).toBeGreaterThan(PHONE.width - 80)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width)
    await screenshot(page, 'shell-04-phone-header')
    await avatar.focus()
    await page.keyboard.press('Enter')
    await page.getByRole('menu').waitFor()
    await expectAccessible(page, 'user menu on a phone')
    await screenshot(page, 'shell-05-phone-user-menu')
    await page.keyboard.press('Escape')
    await page.getByRole('menu').waitFor({ state: 'detached' })
  })

  it('a running export: a count on Exports, then a toast with Download on another page; old news is not toasted', async () => {
    const user = suite.demo.users[0]!
    const api = client(suite.url)
    const page = await open()
    await signIn(page, suite.url, user.email, user.password, '/activity')
    const exportsLink = page.getByTestId('sidebar').getByRole('link', { name: /^Exports/ })
    const badge = exportsLink.getByText(/\d+ running/)
    expect(await badge.count()).toBe(0)

    // A trickle to S3 holds the export running until the throttle is lifted.
    suite.proxy.uploadBytesPerSecond = 2000
    let id: string
    try {
      id = await api.createExport(user.token, { dataset_id: TRANSACTIONS.id, format: 'csv' })
      await badge.waitFor({ timeout: 30_000 })
      expect(await badge.textContent()).toBe('1 running')
      await expectAccessible(page, 'an export running, its count in the sidebar')
      await screenshot(page, 'shell-06-running-count')
    } finally {
      suite.proxy.uploadBytesPerSecond = 0
    }

    const toast = page.locator('li', { hasText: 'Export ready' })
    await toast.waitFor({ timeout: 60_000 })
    expect(await toast.textContent()).toContain('Export ready')
    expect(await toast.textContent()).toContain(`${TRANSACTIONS.title} · CSV`)
    await badge.waitFor({ state: 'detached' })
    expect(new URL(page.url()).pathname).toBe('/activity')
    // Not axe-checked while the toast shows: Reka's toast region gives each toast role="alert"
    // inside its <ol> and surrounds it with aria-hidden focus proxies, which axe reports on any toast.
    expect(await toast.getByRole('link', { name: 'Download' }).getAttribute('href')).toBe(`/api/analytics/exports/${id!}/download`)
    await screenshot(page, 'shell-07-finished-toast')
    const download = page.waitForEvent('download')
    await toast.getByRole('link', { name: 'Download' }).click()
    const file = await download
    expect(file.suggestedFilename()).toMatch(/\.csv$/)
    expect(await file.failure()).toBeNull()

    // A reload does not announce it again.
    await visit(page, `${suite.url}/settings/tokens`)
    await page.getByRole('heading', { name: 'API tokens' }).waitFor()
    await page.waitForTimeout(2000)
    expect(await toast.count()).toBe(0)
    expect((await api.getExport(user.token, id!)).status).toBe('completed')
  })

  it('the API reference opens in its own tab, shows a loading state, and links to the OpenAPI document when the viewer fails', async () => {
    const user = suite.demo.users[0]!
    const page = await open()
    await signIn(page, suite.url, user.email, user.password)
    const link = page.getByTestId('sidebar').getByRole('link', { name: 'API reference' })
    expect(await link.getAttribute('target')).toBe('_blank')

    // The viewer's script held back: the loading state.
    let release!: () => void
    const held = new Promise<void>(resolve => (release = resolve))
    await page.route('**/standalone*.js', async (route) => {
      await held
      await route.continue()
    })
    await page.goto(`${suite.url}/docs/api`)
    const loading = page.getByTestId('api-reference-loading')
    await loading.waitFor()
    await expectAccessible(page, 'API reference loading')
    await screenshot(page, 'shell-08-api-reference-loading')
    release()
    await page.getByRole('heading', { name: 'Outport API', exact: true }).first().waitFor({ timeout: 30_000 })
    expect(await loading.count()).toBe(0)
    await page.unroute('**/standalone*.js')

    // The script blocked: a link to the document itself.
    const blocked = await open()
    await blocked.route('**/standalone*.js', route => route.abort())
    await blocked.goto(`${suite.url}/docs/api`)
    const failed = blocked.getByTestId('api-reference-failed')
    await failed.waitFor()
    const openapi = failed.getByRole('link', { name: 'Open /api/openapi.json' })
    expect(await openapi.getAttribute('href')).toBe('/api/openapi.json')
    await expectAccessible(blocked, 'API reference failed')
    await screenshot(blocked, 'shell-09-api-reference-failed')
    await openapi.click()
    await blocked.waitForURL(/\/api\/openapi\.json$/)
    expect(await blocked.textContent('body')).toContain('"openapi"')
  })

  it('notifications: channels this server has not set up say Unavailable and why; email has a schedule-paused switch', async () => {
    const user = suite.demo.users[0]!
    for (const viewport of [DESKTOP, PHONE]) {
      const page = await open(viewport)
      await signIn(page, suite.url, user.email, user.password, '/settings/notifications')
      const telegram = page.getByTestId('telegram-unavailable')
      await telegram.waitFor()
      expect(await telegram.textContent()).toContain('Unavailable')
      expect(await telegram.textContent()).toContain('no Telegram bot')
      // No SMTP_URL here either: no switches that look on.
      const email = page.getByTestId('email-unavailable')
      expect(await email.textContent()).toContain('no mail server')
      expect(await page.getByTestId('email-settings').getByRole('switch').count()).toBe(0)
      expect(await page.getByTestId('telegram-settings').getByRole('switch').count()).toBe(0)
      // Slack is each user's own: its switches wait for a URL.
      expect(await page.getByTestId('slack-settings').getByRole('switch').count()).toBe(0)
      expect(await page.getByTestId('slack-settings').textContent()).toContain('Nothing is posted until a URL is saved.')
      await expectAccessible(page, `notifications with unavailable channels at ${viewport.width}`)
      await screenshot(page, `shell-10-notifications-${viewport.width}`)
    }
  })

  it('activity: names linking to their objects, and a filter by kind of event kept in the URL', async () => {
    const user = suite.demo.users[0]!
    const api = client(suite.url)
    const page = await open()
    await signIn(page, suite.url, user.email, user.password, '/settings/tokens')
    // Tokens are made with the session, as the tokens page does.
    await page.evaluate(async () => {
      const created = await (await fetch('/api/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Nightly report' }) })).json() as { id: string }
      await fetch(`/api/tokens/${created.id}`, { method: 'DELETE' })
    })
    await page.getByTestId('sidebar').getByRole('link', { name: 'Activity' }).click()
    const list = page.getByTestId('activity')
    await list.waitFor()

    const exportLink = list.locator('li[data-action="export.created"] [data-testid="activity-subject"][data-kind="export"]').first()
    expect(await exportLink.textContent()).toBe(`${TRANSACTIONS.title} · CSV`)
    expect(await exportLink.getAttribute('href')).toMatch(/^\/analytics\/exports\?job=[0-9a-f-]{36}$/)
    const tokenLink = list.locator('li[data-action="token.revoked"] [data-testid="activity-subject"][data-kind="token"]').first()
    expect(await tokenLink.textContent()).toBe('Nightly report')
    expect(await tokenLink.getAttribute('href')).toBe('/settings/tokens')
    await expectAccessible(page, 'activity with names')
    await screenshot(page, 'shell-11-activity')

    // The filter, by keyboard: API tokens only, in the URL.
    await page.getByTestId('activity-filter').focus()
    await page.keyboard.press('Enter')
    const option = page.getByRole('option', { name: 'All: api tokens' })
    await option.waitFor()
    await option.focus()
    await page.keyboard.press('Enter')
    await page.waitForURL(url => url.searchParams.get('action') === 'token')
    await expect.poll(() => list.locator('li').evaluateAll(items => [...new Set(items.map(li => li.getAttribute('data-action')))].sort()))
      .toEqual(['token.created', 'token.revoked'])
    await screenshot(page, 'shell-12-activity-filtered')
    // The URL alone restores it.
    await visit(page, `${suite.url}/activity?action=session.sign_in_failed`)
    await page.getByTestId('activity-empty').waitFor()
    expect(await page.getByTestId('activity-empty').textContent()).toContain('No events of this kind')
    await expectAccessible(page, 'activity filtered, nothing of that kind')
    await page.getByRole('button', { name: 'Show all events' }).click()
    await page.waitForURL(url => !url.searchParams.has('action'))
    await list.waitFor()

    const bad = await api.api('/api/audit?action=export,bogus', { token: user.token })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(await bad.json())).toContain('action')
  })

  it('empty states: tokens and activity each offer their first step', async () => {
    let user!: { email: string, password: string }
    for (const viewport of [DESKTOP, PHONE]) {
      user = await freshUser(`Empty States ${viewport.width}`)
      const page = await open(viewport)
      await signIn(page, suite.url, user.email, user.password, '/settings/tokens')
      const empty = page.getByTestId('tokens-empty')
      await empty.waitFor()
      await expectAccessible(page, `tokens empty at ${viewport.width}`)
      await screenshot(page, `shell-13-tokens-empty-${viewport.width}`)
      await empty.getByRole('button', { name: 'Create a token' }).focus()
      await page.keyboard.press('Enter')
      await expect.poll(() => page.evaluate(() => document.activeElement?.closest('[data-testid="token-form"]') !== null)).toBe(true)
      await page.keyboard.type('first script')
      await page.keyboard.press('Enter')
      await page.getByTestId('token-secret').waitFor()
      expect(await empty.count()).toBe(0)
    }
    // Activity has the sign-ins and token above; a user with none of a kind sees the way back.
    const page = await open()
    await signIn(page, suite.url, user.email, user.password, '/activity')
    await visit(page, `${suite.url}/activity?action=destination`)
    const empty = page.getByTestId('activity-empty')
    await empty.waitFor()
    await screenshot(page, 'shell-14-activity-empty-filter')
  })
})
