import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { expectAccessible, launchBrowser, screenshot, signIn, visit } from '../helpers/browser'
import { client } from '../helpers/http'
import { DATASETS } from '#server/lib/warehouse/datasets'

const baseUrl = inject('baseUrl')
const demo = inject('demo')
// Files run one at a time, so this user's newest events are this file's.
const user = demo.users.at(-1)!
const demoDataset = DATASETS.find(d => d.name === 'fct_monthly_trends')!.id

/** The API tokens settings page and the Activity page, in Chromium. */
describe('API tokens and Activity pages', () => {
  let browser: Browser

  beforeAll(async () => {
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('creates a token (shown once, copied), which works until it is revoked from the list', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl })
    const page = await context.newPage()
    try {
      await signIn(page, baseUrl, user.email, user.password)
      await page.getByTestId('sidebar').getByRole('link', { name: 'API tokens' }).click()
      await page.waitForURL(url => url.pathname === '/settings/tokens')
      await page.getByRole('heading', { name: 'API tokens' }).waitFor()
      await page.getByTestId('tokens').waitFor()
      await expectAccessible(page, 'API tokens page')

      await page.getByTestId('token-name').fill('browser test')
      await page.getByTestId('token-create').click()
      const secret = (await page.getByTestId('token-secret').textContent())!.trim()
      expect(secret).toMatch(/^otp_[A-Za-z0-9_-]{43}$/)
      // Before the copy: its toast, still fading in, would be judged on a half-transparent frame.
      await expectAccessible(page, 'API tokens page, a token just created')
      await page.getByTestId('token-copy').click()
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret)
      // Rows by CSS, not by role: while the confirmation is open the page behind it is hidden from
      // the accessibility tree, and a role query would find no row before the revoke happened.
      const row = page.locator('[data-testid="tokens"] tbody tr', { hasText: 'browser test' })
      await row.waitFor()
      expect(await row.textContent()).toContain(secret.slice(0, 12))
      expect(await row.textContent()).not.toContain(secret)
      await screenshot(page, '30-tokens-created')

      const { api } = client(baseUrl)
      expect((await api('/api/auth/me', { token: secret })).status).toBe(200)

      // Shown once: a reload lists the token but no longer shows its secret.
      await visit(page, `${baseUrl}/settings/tokens`)
      await row.waitFor()
      expect(await page.getByTestId('token-secret').count()).toBe(0)

      await page.getByRole('button', { name: 'Revoke the token browser test' }).click()
      await page.getByTestId('token-revoke-confirm').waitFor()
      await expectAccessible(page, 'API tokens revoke confirmation')
      await screenshot(page, '31-tokens-revoke-confirm')
      await page.getByTestId('token-revoke-confirm').click()
      await page.getByRole('dialog').waitFor({ state: 'detached' })
      await row.waitFor({ state: 'detached' })
      expect((await api('/api/auth/me', { token: secret })).status).toBe(401)
      await screenshot(page, '32-tokens-revoked')
    } finally {
      await context.close()
    }
  })

  it('picks what a token may do by keyboard at phone width: the defaults checked, the channel scope chosen, listed and enforced', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    const page = await context.newPage()
    try {
      await signIn(page, baseUrl, user.email, user.password, '/settings/tokens')
      await page.getByTestId('token-scopes').waitFor()
      const box = (scope: string) => page.getByRole('checkbox', { name: scope, exact: true })
      const checked = async (scope: string) => (await box(scope).getAttribute('aria-checked')) === 'true'
      expect(await Promise.all(['exports:read', 'exports:write', 'schedules:write', 'webhooks:write', 'destinations:write'].map(checked)))
        .toEqual([true, true, true, false, false])
      await expectAccessible(page, 'API tokens page at phone width')

      // From the name field, Tab enters the scopes, the arrow keys move between them, Space toggles one.
      await page.getByTestId('token-name').fill('phone script')
      const focused = (scope: string) => box(scope).evaluate(el => el === document.activeElement)
      const focusByKeyboard = async (scope: string) => {
        await page.getByTestId('token-name').focus()
        const inGroup = () => page.getByTestId('token-scopes').evaluate(el => el.contains(document.activeElement))
        for (let i = 0; i < 6 && !await inGroup(); i++) await page.keyboard.press('Tab')
        for (const key of ['ArrowDown', 'ArrowUp']) {
          for (let i = 0; i < 5 && !await focused(scope); i++) await page.keyboard.press(key)
        }
        expect(await focused(scope), `${scope} reached by keyboard`).toBe(true)
      }
      await focusByKeyboard('webhooks:write')
      await page.keyboard.press('Space')
      expect(await checked('webhooks:write')).toBe(true)
      await focusByKeyboard('schedules:write')
      await page.keyboard.press('Space')
      expect(await checked('schedules:write')).toBe(false)

      // Enter in the name field submits.
      await page.getByTestId('token-name').press('Enter')
      const secret = (await page.getByTestId('token-secret').textContent())!.trim()
      const row = page.locator('[data-testid="tokens"] tbody tr', { hasText: 'phone script' })
      await row.waitFor()
      expect(await row.getByTestId('token-scopes-list').getByRole('listitem').allTextContents()).toEqual(['exports:read', 'exports:write', 'webhooks:write'])
      // The form is back to the defaults for the next token.
      expect(await checked('webhooks:write')).toBe(false)
      expect(await checked('schedules:write')).toBe(true)
      await expectAccessible(page, 'API tokens page at phone width, a scoped token created')
      await screenshot(page, '35-tokens-scopes-phone')

      const { api } = client(baseUrl)
      const patch = (token: string) => api('/api/notifications/settings', { method: 'PATCH', token, headers: { 'content-type': 'application/json' }, body: '{}' })
      expect((await patch(secret)).status).toBe(200)
      const schedules = await api('/api/analytics/schedules', { method: 'POST', token: secret, headers: { 'content-type': 'application/json' }, body: '{}' })
      expect(schedules.status).toBe(403)
      expect((await schedules.json()).message).toContain('schedules:write')

      // No scope at all is refused in the form, on the field.
      for (const scope of ['exports:read', 'exports:write', 'schedules:write']) {
        await focusByKeyboard(scope)
        await page.keyboard.press('Space')
      }
      await page.getByTestId('token-name').fill('nothing')
      await page.getByTestId('token-name').press('Enter')
      await page.getByText('Choose at least one scope').waitFor()
      await expectAccessible(page, 'API tokens page at phone width, no scope chosen')
      await page.getByRole('button', { name: 'Revoke the token phone script' }).click()
      await page.getByTestId('token-revoke-confirm').click()
      await row.waitFor({ state: 'detached' })
    } finally {
      await context.close()
    }
  })

  it('the history says how long a file is kept, and deletes it after a confirmation', async () => {
    const { createExport, waitForExport, api } = client(baseUrl)
    const id = await createExport(user.token, { dataset_id: demoDataset, format: 'csv' })
    await waitForExport(user.token, id)
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    try {
      await signIn(page, baseUrl, user.email, user.password, '/analytics/exports')
      const row = page.locator('[data-testid="history"] tbody tr', { has: page.locator(`[data-job-id="${id}"]`) })
      await row.getByTestId('kept-until').waitFor()
      expect(await row.getByTestId('kept-until').textContent()).toMatch(/kept until \w+/)
      await row.getByTestId('history-menu').click()
      await page.getByRole('menuitem', { name: 'Delete' }).click()
      await page.getByTestId('history-delete-confirm').waitFor()
      await expectAccessible(page, 'export delete confirmation')
      await page.getByTestId('history-delete-confirm').click()
      await page.getByRole('dialog').waitFor({ state: 'detached' })
      await expect.poll(() => row.getByTestId('history-status').textContent()).toBe('deleted')
      expect(await row.getByTestId('kept-until').count()).toBe(0)
      expect((await api(`/api/analytics/exports/${id}/download`, { token: user.token })).status).toBe(410)
      await screenshot(page, '34-history-deleted')
    } finally {
      await context.close()
    }
  })

  it('shows the user\'s activity, newest first', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    try {
      await signIn(page, baseUrl, user.email, user.password)
      await page.getByTestId('sidebar').getByRole('link', { name: 'Activity' }).click()
      await page.waitForURL(url => url.pathname === '/activity')
      await page.getByRole('heading', { name: 'Activity' }).waitFor()
      const items = page.getByTestId('activity').locator('li')
      await items.first().waitFor()
      // The sign-in just now is the newest event; the token revoked and the export deleted above are in the list too.
      expect(await items.first().getAttribute('data-action')).toBe('session.signed_in')
      for (const action of ['token.revoked', 'export.deleted', 'export.created']) {
        expect(await page.locator(`li[data-action="${action}"]`).count(), action).toBeGreaterThan(0)
      }
      expect(await items.first().textContent()).toContain('Signed in')
      await expectAccessible(page, 'Activity page')
      await screenshot(page, '33-activity')
    } finally {
      await context.close()
    }
  })
})
