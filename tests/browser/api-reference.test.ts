import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { expectAccessible, launchBrowser, screenshot } from '../helpers/browser'

const baseUrl = inject('baseUrl')

let browser: Browser

beforeAll(async () => {
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
})

describe('the API reference at /docs/api', () => {
  it('renders the OpenAPI document without signing in, from this server alone, accessibly', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const foreign: string[] = []
    const failed: string[] = []
    const errors: string[] = []
    page.on('request', (request) => {
      const url = new URL(request.url())
      if (!['data:', 'blob:'].includes(url.protocol) && url.origin !== new URL(baseUrl).origin) foreign.push(request.url())
    })
    page.on('requestfailed', request => failed.push(`${request.url()} ${request.failure()?.errorText}`))
    page.on('pageerror', error => errors.push(error.message))
    try {
      await page.goto(`${baseUrl}/docs/api`)
      expect(new URL(page.url()).pathname).toBe('/docs/api')
      await page.getByRole('heading', { name: 'Outport API' }).first().waitFor({ timeout: 30_000 })
      for (const summary of ['Create an export', 'Get an export', 'Create a schedule', 'Sign in']) {
        await page.getByText(summary, { exact: true }).first().waitFor({ timeout: 10_000 })
      }
      await screenshot(page, 'api-reference')
      expect(foreign).toEqual([])
      expect(failed).toEqual([])
      expect(errors).toEqual([])
      await expectAccessible(page, 'API reference')
    } finally {
      await context.close()
    }
  })
})
