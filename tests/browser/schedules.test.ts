import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { expectAccessible, hydrated, launchBrowser, screenshot, signIn } from '../helpers/browser'

const baseUrl = inject('baseUrl')
const demo = inject('demo')
// The last demo user: the other browser suites work as the first two.
const user = demo.users.at(-1)!

let browser: Browser
let context: BrowserContext
let page: Page

beforeAll(async () => {
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
})
afterEach(async () => {
  await context?.close()
})

async function freshPage(viewport = { width: 1280, height: 900 }) {
  // The browser's time zone is the schedule's default.
  context = await browser.newContext({ viewport, timezoneId: 'Europe/London', locale: 'en-GB' })
  page = await context.newPage()
  return page
}

async function choose(testId: string, option: string) {
  await page.getByTestId(testId).click()
  await page.getByRole('option', { name: option, exact: true }).click()
}

const card = () => page.getByTestId('schedule').first()

describe('schedules in the browser', () => {
  it('"Repeat this export…" turns the dialog\'s choices into a schedule; the Schedules page shows it in words; pause, resume, run now, delete', async () => {
    await freshPage()
    await signIn(page, baseUrl, user.email, user.password)
    await page.getByRole('button', { name: 'Export Transactions' }).click()
    await page.getByTestId('export-form').waitFor()
    await page.getByTestId('file-options-toggle').click()
    await page.getByText('Parquet', { exact: true }).click()
    await page.getByTestId('repeat-export').click()
    await page.getByTestId('schedule-form').waitFor()
    await page.getByTestId('schedule-name').fill('Monday transactions')
    await choose('schedule-range', 'Previous week')
    await choose('schedule-frequency', 'Weekly')
    await choose('schedule-weekday', 'Monday')
    await page.getByTestId('schedule-time').fill('08:00')
    expect(await page.getByTestId('schedule-time-zone').textContent()).toContain('Europe/London')
    await screenshot(page, 'schedules-01-repeat-form')
    await page.getByTestId('save-schedule').click()
    await page.getByTestId('schedule-created').waitFor()
    await screenshot(page, 'schedules-02-saved')
    await page.getByTestId('view-schedules').click()
    await page.waitForURL(/\/analytics\/schedules$/)
    await hydrated(page)

    await expect.poll(() => card().getByTestId('schedule-summary').textContent())
      .toBe('Every Monday at 08:00 (Europe/London) — previous week — Transactions as Parquet')
    expect(await card().getByTestId('next-run').textContent()).toMatch(/Next run: .*08:00/)
    expect(await card().getByTestId('last-run').textContent()).toContain('never')
    await screenshot(page, 'schedules-03-page')

    await card().getByTestId('toggle-schedule').click()
    await expect.poll(() => card().getAttribute('data-enabled')).toBe('false')
    expect(await card().getByTestId('next-run').textContent()).toContain('—')
    await screenshot(page, 'schedules-04-paused')
    await card().getByTestId('toggle-schedule').click()
    await expect.poll(() => card().getAttribute('data-enabled')).toBe('true')

    await card().getByTestId('edit-schedule').click()
    await page.getByTestId('edit-form').waitFor()
    await choose('schedule-frequency', 'Daily')
    await page.getByTestId('schedule-time').fill('07:15')
    // Channels for this schedule only: everything but email.
    expect(await card().getByTestId('schedule-channels').count()).toBe(0)
    await choose('schedule-notify', 'Choose channels for this schedule')
    await page.getByRole('checkbox', { name: 'Email' }).click()
    await screenshot(page, 'schedules-04b-edit')
    await page.getByTestId('save-edit').click()
    await expect.poll(() => card().getByTestId('schedule-summary').textContent())
      .toBe('Every day at 07:15 (Europe/London) — previous week — Transactions as Parquet')
    expect(await card().getByTestId('schedule-channels').textContent()).toBe('Notifies: Telegram, Webhooks, Slack')
    const saved = await page.evaluate(id => fetch(`/api/analytics/schedules/${id}`).then(r => r.json()), await card().getAttribute('data-schedule-id'))
    expect(saved.channels).toEqual({ telegram: true, email: false, webhooks: true, slack: true })

    await card().getByTestId('run-now').click()
    await expect.poll(() => card().getByTestId('last-run-status').count()).toBe(1)
    // The run finishes in the background; the page follows it without a reload.
    await expect.poll(() => card().getByTestId('last-run-status').textContent(), { timeout: 30_000 }).toBe('completed')
    await screenshot(page, 'schedules-05-ran')
    // The last run links to the export.
    await card().getByTestId('last-run').getByRole('link').click()
    await page.locator('[data-testid="export-status"][data-status="completed"]').waitFor()
    await page.goBack()
    await hydrated(page)

    await card().getByTestId('delete-schedule').click()
    await page.getByTestId('confirm-delete').click()
    await page.getByTestId('no-schedules').waitFor()
  })

  it('the app shell: sidebar on desktop, a menu at phone width; the Schedules page fits a phone', async () => {
    await freshPage()
    await signIn(page, baseUrl, user.email, user.password, '/analytics/exports')
    const sidebar = page.getByTestId('sidebar')
    await sidebar.getByRole('link', { name: 'Schedules' }).click()
    await page.waitForURL(/\/analytics\/schedules$/)
    await sidebar.getByRole('link', { name: 'Datasets' }).click()
    await page.waitForURL(/\/analytics\/datasets$/)
    await screenshot(page, 'schedules-06-shell-desktop')
    await context.close()

    const body = { dataset_id: '054f17bf-1dbb-43ed-98c3-b4858093d7fc', format: 'csv', range: { last_n_days: 30 }, cadence: { frequency: 'monthly', day_of_month: 'last', time: '18:30', time_zone: 'America/New_York' }, name: 'Month-end, a long name to see how it wraps on a phone' }
    const res = await fetch(`${baseUrl}/api/analytics/schedules`, { method: 'POST', headers: { 'authorization': `Bearer ${user.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect(res.status).toBe(201)
    const { id } = await res.json()

    await freshPage({ width: 390, height: 844 })
    await signIn(page, baseUrl, user.email, user.password)
    expect(await page.getByTestId('sidebar').isVisible()).toBe(false)
    await page.getByTestId('menu-button').click()
    await page.getByTestId('menu').getByRole('link', { name: 'Schedules' }).click()
    await page.waitForURL(/\/analytics\/schedules$/)
    await expect.poll(() => card().getByTestId('schedule-summary').textContent())
      .toBe('Monthly on the last day at 18:30 (America/New_York) — last 30 days — Transactions as CSV')
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(page, 'schedules-07-phone')
    await fetch(`${baseUrl}/api/analytics/schedules/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${user.token}` } })
  })

  it('a schedule\'s conditions in words on its card; each dataset\'s date coverage under its title', async () => {
    const body = {
      dataset_id: '054f17bf-1dbb-43ed-98c3-b4858093d7fc', format: 'csv', range: 'previous_month', name: 'Big Amazon spending',
      cadence: { frequency: 'daily', time: '07:00', time_zone: 'Europe/London' },
      row_filters: [{ column: 'amount', op: 'lt', value: -100 }, { column: 'merchant', op: 'contains', value: 'Amazon' }, { column: 'currency', op: 'in', value: ['EUR', 'GBP'] }]
    }
    const res = await fetch(`${baseUrl}/api/analytics/schedules`, { method: 'POST', headers: { 'authorization': `Bearer ${user.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect(res.status).toBe(201)
    const { id } = await res.json()
    await freshPage()
    await signIn(page, baseUrl, user.email, user.password, '/analytics/schedules')
    const conditions = page.locator(`[data-schedule-id="${id}"]`).getByTestId('schedule-conditions')
    await expect.poll(() => conditions.textContent()).toBe('Only rows where amount < −100 · merchant contains “Amazon” · currency is one of “EUR”, “GBP”')
    await expectAccessible(page, 'schedules with conditions')
    await screenshot(page, 'schedules-08-conditions')
    await fetch(`${baseUrl}/api/analytics/schedules/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${user.token}` } })

    await page.getByTestId('sidebar').getByRole('link', { name: 'Datasets' }).click()
    await page.waitForURL(/\/analytics\/datasets$/)
    const coverage = page.getByTestId('dataset-fct_transactions').getByTestId('dataset-coverage')
    await expect.poll(() => coverage.textContent()).toMatch(/^Dates covered: [A-Z][a-z]{2,3} \d{4} – [A-Z][a-z]{2,3} \d{4}$/)
    expect(await page.getByTestId('dataset-coverage').count()).toBe(3)
    await expectAccessible(page, 'datasets with their coverage')
    await screenshot(page, 'schedules-09-dataset-coverage')
  })

  it('backfill by keyboard with its progress; "only new rows since the last run" every 10 minutes, its watermark in words; axe-clean, phone width', async () => {
    const body = { dataset_id: '054f17bf-1dbb-43ed-98c3-b4858093d7fc', format: 'csv', range: 'previous_day', name: 'Backfill me', cadence: { frequency: 'daily', time: '06:00', time_zone: 'Europe/London' } }
    const res = await fetch(`${baseUrl}/api/analytics/schedules`, { method: 'POST', headers: { 'authorization': `Bearer ${user.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect(res.status).toBe(201)
    const { id } = await res.json()
    const day = (offset: number) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London' }).format(new Date(Date.now() + offset * 86_400_000))
    await freshPage()
    await signIn(page, baseUrl, user.email, user.password, '/analytics/schedules')
    const mine = page.locator(`[data-schedule-id="${id}"]`)
    await mine.getByTestId('backfill-schedule').focus()
    await page.keyboard.press('Enter')
    await page.getByTestId('backfill-form').waitFor()
    await expectAccessible(page, 'backfill dialog')
    await page.getByTestId('backfill-from').fill(day(-3))
    await page.getByTestId('backfill-to').fill(day(-2))
    await page.getByTestId('backfill-to').press('Enter')
    await expect.poll(() => page.getByTestId('backfill-message').textContent()).toBe('2 runs queued')
    await expect.poll(() => page.getByTestId('backfill-progress').textContent(), { timeout: 30_000 }).toBe('2 done, 0 failed, 0 pending')
    await expectAccessible(page, 'backfill with its progress')
    await screenshot(page, 'schedules-10-backfill')
    await page.setViewportSize({ width: 390, height: 844 })
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await page.keyboard.press('Escape')
    await page.getByTestId('backfill-form').waitFor({ state: 'detached' })
    await page.setViewportSize({ width: 1280, height: 900 })

    await mine.getByTestId('edit-schedule').click()
    await page.getByTestId('edit-form').waitFor()
    await choose('schedule-range', 'Only new rows since the last run')
    await choose('schedule-frequency', 'Every few minutes')
    await choose('schedule-every', '10 minutes')
    expect(await page.getByTestId('schedule-time').count()).toBe(0)
    await expectAccessible(page, 'incremental schedule form')
    await page.getByTestId('save-edit').click()
    await expect.poll(() => mine.getByTestId('schedule-summary').textContent())
      .toBe('Every 10 minutes (Europe/London) — new rows since the last run — Transactions as CSV')
    expect(await mine.getByTestId('backfill-schedule').count()).toBe(0)
    expect(await mine.getByTestId('schedule-watermark').textContent()).toBe('Nothing exported yet')
    await mine.getByTestId('run-now').click()
    // The backfill's runs were completed already: the card follows the new run until it is.
    await expect.poll(() => mine.getByTestId('schedule-watermark').textContent(), { timeout: 30_000 }).toMatch(/^Exported up to \d{1,2} [A-Z][a-z]{2} \d{2}:\d{2}$/)
    await expectAccessible(page, 'incremental schedule card')
    await page.setViewportSize({ width: 390, height: 844 })
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(page, 'schedules-11-incremental-phone')
    await fetch(`${baseUrl}/api/analytics/schedules/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${user.token}` } })
  })
})
