import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'

/** Debian's Chromium driven by Playwright; no browser downloads on our machines. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
}

export const SCREENSHOTS = join(import.meta.dirname, '../../test-results/screenshots')

export async function screenshot(page: Page, name: string) {
  await mkdir(SCREENSHOTS, { recursive: true })
  // Finite CSS transitions (the dialog fading in) are finished first, so each shot shows the settled state.
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true, animations: 'disabled' })
}

/**
 * Navigates and waits until the app has hydrated: before that, clicks on server-rendered buttons do
 * nothing and hydration resets what was typed into inputs.
 */
export async function visit(page: Page, url: string) {
  await page.goto(url)
  await hydrated(page)
}

export async function hydrated(page: Page) {
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached' })
}

export async function signIn(page: Page, baseUrl: string, email: string, password: string, path = '/analytics/datasets') {
  await visit(page, `${baseUrl}${path}`)
  await page.waitForURL(/\/login/)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(url => url.pathname === path)
}
