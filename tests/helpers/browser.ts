import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import AxeBuilder from '@axe-core/playwright'
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

/** Waits until no finite animation or transition runs (a fading dialog would be measured half-transparent). */
export async function settled(page: Page) {
  await page.waitForFunction(() => document.getAnimations().every((a) => {
    const end = a.effect?.getComputedTiming().endTime
    return a.playState !== 'running' || end === Infinity || typeof end !== 'number'
  }), undefined, { timeout: 10_000 })
}

/**
 * Runs axe-core on the page as it is now and fails on serious or critical violations, listing
 * each with the elements it found. The rules: WCAG 2.0/2.1 A and AA, and "label in name" (a
 * control's accessible name contains its visible text), which axe still files as experimental.
 */
export async function expectAccessible(page: Page, label: string) {
  await settled(page)
  const results = await new AxeBuilder({ page }).options({
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    rules: { 'label-content-name-mismatch': { enabled: true } }
  }).analyze()
  const blocking = results.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
  const report = blocking.map(v => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map(n => `  ${n.target.join(' ')} — ${n.failureSummary?.replaceAll('\n', ' ')}`).join('\n')}`)
  if (report.length) throw new Error(`axe: ${blocking.length} serious/critical violation(s) on ${label}:\n${report.join('\n')}`)
}
