import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { startS3rver } from '#server/lib/local/s3rver'
import { expectAccessible, launchBrowser, screenshot, signIn } from '../helpers/browser'
import { TEST_BUCKET } from '../helpers/environment'
import { useServerSuite } from '../helpers/suite'

/** The dialog's failed state, on an environment of its own whose storage is down. */
describe('export dialog when storage is down', () => {
  const suite = useServerSuite({
    name: 'browser-failures',
    users: 1,
    transactions: 300,
    prepare: ({ environment }) => environment.s3.stop(),
    env: { EXPORT_MAX_ATTEMPTS: '1' },
    requireHealthy: false
  })
  let browser: Browser

  beforeAll(async () => {
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('shows the failure in words and Try again works once storage is back', async () => {
    const user = suite.demo.users[0]!
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    try {
      await signIn(page, suite.url, user.email, user.password)
      await page.getByRole('button', { name: 'Export Monthly Trends' }).click()
      await page.getByTestId('start-export').click()
      await page.locator('[data-testid="export-status"][data-status="failed"]').waitFor({ timeout: 30_000 })
      expect(await page.getByTestId('export-error').textContent()).toMatch(/file storage service could not be reached/i)
      await screenshot(page, '11-dialog-failed')
      await expectAccessible(page, 'export dialog failed')

      const port = Number(new URL(suite.env.S3_ENDPOINT!).port)
      const s3 = await startS3rver({ directory: join(suite.environment.dir, 's3'), port, buckets: [TEST_BUCKET] })
      try {
        await page.getByTestId('try-again').click()
        await page.locator('[data-testid="export-status"][data-status="completed"]').waitFor({ timeout: 30_000 })
        expect(await page.getByTestId('export-summary').textContent()).toMatch(/\d+ rows/)
      } finally {
        await s3.stop()
      }
    } finally {
      await context.close()
    }
  })

  it('every list page says when its data could not be loaded, in the server\'s words, and Retry loads it', async () => {
    const user = suite.demo.users[0]!
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    const page = await context.newPage()
    try {
      await signIn(page, suite.url, user.email, user.password, '/settings/tokens')
      // Client-side navigations (the sidebar), so each page's request comes from the browser.
      const pages = [
        { link: 'Datasets', api: /\/api\/analytics\/datasets$/, title: 'Could not load datasets' },
        { link: 'Exports', api: /\/api\/analytics\/exports\?/, title: 'Could not load your exports' },
        { link: 'Schedules', api: /\/api\/analytics\/schedules$/, title: 'Could not load schedules' },
        { link: 'Activity', api: /\/api\/audit\?/, title: 'Could not load your activity' },
        { link: 'API tokens', api: /\/api\/tokens$/, title: 'Could not load your tokens' }
      ]
      for (const { link, api, title } of pages) {
        let failing = true
        await page.route(api, route => failing
          ? route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ statusCode: 503, message: 'The database is unavailable' }) })
          : route.continue())
        await page.getByTestId('menu-button').click()
        await page.getByRole('link', { name: link }).click()
        const alert = page.getByRole('alert').filter({ hasText: title })
        await alert.waitFor()
        expect(await alert.textContent()).toContain('The database is unavailable')
        await expectAccessible(page, `${link} load error`)
        if (link === 'Datasets') await screenshot(page, '35-datasets-load-error-phone')
        failing = false
        await alert.getByRole('button', { name: 'Retry' }).click()
        await alert.waitFor({ state: 'detached' })
        await page.unroute(api)
      }
    } finally {
      await context.close()
    }
  }, 120_000)
})
