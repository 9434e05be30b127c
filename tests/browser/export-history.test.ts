import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { createDb, type Db } from '#server/lib/db/client'
import { createApiToken } from '#server/lib/auth/tokens'
import { createUser } from '#server/lib/users'
import { DATASETS } from '#server/lib/warehouse/datasets'
import type { ExportJobDTO } from '#shared/types/exports'
import { expectAccessible, hydrated, launchBrowser, screenshot, signIn, visit } from '../helpers/browser'
import { client } from '../helpers/http'

const baseUrl = inject('baseUrl')
const env = inject('env')
const MONTHLY = DATASETS.find(d => d.name === 'fct_monthly_trends')!
const { api, postJson, createExport, waitForExport } = client(baseUrl)

interface HistoryUser { id: string, email: string, password: string, token: string }

/** The export history page, with users of its own (a fresh user has an empty history). */
describe('export history', () => {
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let db: Db
  let user: HistoryUser
  const jobs = {} as { api: ExportJobDTO, manual: string, schedule: ExportJobDTO, failed: string }
  let scheduleId: string

  async function newUser(): Promise<HistoryUser> {
    const email = `history-${randomUUID().slice(0, 8)}@example.com`
    const created = await createUser(db, { email, password: 'history-password' })
    const { token } = await createApiToken(db, created.id, 'history test')
    return { id: created.id, email, password: 'history-password', token }
  }

  async function freshPage(viewport = { width: 1280, height: 900 }) {
    await context?.close()
    context = await browser.newContext({ viewport })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl })
    page = await context.newPage()
    return page
  }

  const row = (jobId: string) => page.locator('[data-testid="history"] tbody tr', { has: page.locator(`[data-job-id="${jobId}"]`) })
  const listedIds = () => page.locator('[data-testid="history"] [data-job-id]').evaluateAll(els => els.map(e => e.getAttribute('data-job-id')))

  beforeAll(async () => {
    browser = await launchBrowser()
    db = createDb(env.DATABASE_URL!, { max: 2 })
    user = await newUser()
    // One export each way: a token's, the app's (a cookie session), a schedule's run, and one that failed.
    jobs.api = await waitForExport(user.token, await createExport(user.token, { dataset_id: MONTHLY.id, format: 'csv' }))
    const login = await postJson('/api/auth/login', { email: user.email, password: user.password })
    const cookie = login.headers.getSetCookie().find(c => c.startsWith('nuxt-session='))!.split(';')[0]!
    const manual = await postJson('/api/analytics/exports', { dataset_id: MONTHLY.id, format: 'json' }, { cookie, headers: { 'sec-fetch-site': 'same-origin' } })
    jobs.manual = (await manual.json()).job_id
    await waitForExport(user.token, jobs.manual)
    const created = await postJson('/api/analytics/schedules', {
      dataset_id: MONTHLY.id, format: 'csv', range: 'previous_month', name: 'Monthly for finance',
      cadence: { frequency: 'monthly', day_of_month: 1, time: '08:00', time_zone: 'UTC' }
    }, { token: user.token })
    const schedule = await created.json()
    expect(created.status, JSON.stringify(schedule)).toBe(201)
    scheduleId = schedule.id
    const run = await (await api(`/api/analytics/schedules/${scheduleId}/run`, { method: 'POST', token: user.token })).json()
    jobs.schedule = await waitForExport(user.token, run.job_id)
    const failed = await db.$queryRaw<Array<{ id: string }>>`
      INSERT INTO jobs (user_id, type, status, source, metadata, error, attempts, started_at, completed_at, updated_at)
      VALUES (${user.id}::uuid, 'EXPORT', 'failed', 'api', ${JSON.stringify({ dataset_id: MONTHLY.id, dataset_name: MONTHLY.name, format: 'csv', filters: { start_date: '2024-01-01', end_date: '2024-06-30', account_ids: [], tag_ids: [] } })}::jsonb,
        ${JSON.stringify({ code: 'QUERY_FAILED', message: 'The dataset query failed: out of memory' })}::jsonb, 3, now(), now(), now())
      RETURNING id`
    jobs.failed = failed[0]!.id
  })
  afterAll(async () => {
    await context?.close()
    await browser?.close()
    await db?.$disconnect()
  })

  it('shows where each export came from, and why one failed; Retry starts it again', async () => {
    await freshPage()
    await signIn(page, baseUrl, user.email, user.password, '/analytics/exports')
    await row(jobs.failed).waitFor()
    expect(await row(jobs.api.job_id).getByTestId('history-source').textContent()).toContain('API')
    expect(await row(jobs.manual).getByTestId('history-source').textContent()).toContain('Manual')
    const scheduled = row(jobs.schedule.job_id).getByTestId('history-source')
    expect(await scheduled.textContent()).toContain('Monthly for finance')
    expect(await scheduled.getAttribute('href')).toBe(`/analytics/schedules#schedule-${scheduleId}`)

    expect(await row(jobs.failed).getByTestId('history-error').textContent()).toContain('The dataset query failed: out of memory')
    await screenshot(page, 'history-01-desktop')
    await expectAccessible(page, 'export history with sources and a failed export')

    const before = (await listedIds()).length
    await row(jobs.failed).getByTestId('history-retry').click()
    await page.getByText('Export started').first().waitFor()
    await expect.poll(async () => (await listedIds()).length).toBe(before + 1)
    const newest = (await listedIds())[0]!
    const retried = await waitForExport(user.token, newest)
    expect(retried).toMatchObject({ status: 'completed', source: 'manual', dataset_id: MONTHLY.id, format: 'csv', filters: { start_date: '2024-01-01', end_date: '2024-06-30' } })
  })

  it('keeps its filters in the URL, through a reload, and clears them', async () => {
    await freshPage()
    await signIn(page, baseUrl, user.email, user.password, '/analytics/exports')
    await visit(page, `${baseUrl}/analytics/exports?source=api&status=completed`)
    await row(jobs.api.job_id).waitFor()
    expect(await listedIds()).toEqual([jobs.api.job_id])

    // By keyboard: the Source select opens with Enter, arrows pick, Enter chooses.
    await page.getByTestId('filter-source').focus()
    await page.keyboard.press('Enter')
    await page.getByRole('option', { name: 'Schedule', exact: true }).waitFor()
    // The list opens on the chosen "API"; "Schedule" is next.
    const highlighted = () => page.locator('[role="option"][data-highlighted]').textContent()
    await expect.poll(highlighted).toBe('API')
    await page.keyboard.press('ArrowDown')
    await expect.poll(highlighted).toBe('Schedule')
    await page.keyboard.press('Enter')
    await page.waitForURL(url => url.searchParams.get('source') === 'schedule')
    await row(jobs.schedule.job_id).waitFor()
    expect(await listedIds()).toEqual([jobs.schedule.job_id])

    await page.getByTestId('filter-created').click()
    await page.getByRole('option', { name: 'Last 24 hours' }).click()
    await page.waitForURL(url => url.searchParams.get('created') === '24h')
    await page.reload()
    await hydrated(page)
    await row(jobs.schedule.job_id).waitFor()
    expect(new URL(page.url()).searchParams.toString()).toBe('status=completed&source=schedule&created=24h')
    expect(await page.getByTestId('filter-source').textContent()).toContain('Schedule')
    expect(await page.getByTestId('filter-created').textContent()).toContain('Last 24 hours')
    await screenshot(page, 'history-02-filtered')
    await expectAccessible(page, 'export history filtered')

    await page.getByTestId('clear-filters').click()
    await page.waitForURL(url => url.search === '')
    await expect.poll(async () => (await listedIds()).length).toBeGreaterThanOrEqual(4)
  })

  it('a schedule\'s link shows its runs, named, as a filter to remove', async () => {
    await freshPage()
    await signIn(page, baseUrl, user.email, user.password, '/analytics/exports')
    await visit(page, `${baseUrl}/analytics/exports?schedule_id=${scheduleId}`)
    await row(jobs.schedule.job_id).waitFor()
    expect(await listedIds()).toEqual([jobs.schedule.job_id])
    await expect.poll(() => page.getByTestId('filter-schedule').textContent()).toContain('Runs of Monthly for finance')
    await page.getByRole('button', { name: 'Remove the filter: runs of Monthly for finance' }).click()
    await page.waitForURL(url => !url.searchParams.has('schedule_id'))
    await expect.poll(async () => (await listedIds()).length).toBeGreaterThan(1)

    // Filtered down to nothing: the way out is one button.
    await visit(page, `${baseUrl}/analytics/exports?status=cancelled`)
    await page.getByTestId('history-empty').waitFor()
    await page.getByTestId('empty-clear-filters').click()
    await page.waitForURL(url => url.search === '')
    await row(jobs.api.job_id).waitFor()
  })

  it('each row\'s menu works by keyboard: export again, edit and export, make a schedule, copy curl, delete', async () => {
    await freshPage()
    await signIn(page, baseUrl, user.email, user.password, '/analytics/exports')
    const menu = row(jobs.api.job_id).getByTestId('history-menu')
    await menu.focus()
    await page.keyboard.press('Enter')
    const items = page.getByRole('menuitem')
    await items.first().waitFor()
    expect(await items.allTextContents()).toEqual(['Export again', 'Edit and export', 'Make a schedule', 'Copy curl line', 'Delete'])
    await screenshot(page, 'history-03-row-menu')
    await expectAccessible(page, 'export history row menu')

    // Copy curl line: the fourth item.
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    await page.getByText('Copied').first().waitFor()
    const curl = await page.evaluate(() => navigator.clipboard.readText())
    expect(curl).toContain(`/api/analytics/exports/${jobs.api.job_id}/download`)
    expect(curl).toMatch(/^curl -L -H "Authorization: Bearer \$OUTPORT_TOKEN" -o ".+\.csv"/)

    // Edit and export opens the dialog prefilled from this export (once the menu has closed: opened
    // again while it still fades out, it keeps the focus on its button).
    await page.getByRole('menu').waitFor({ state: 'detached' })
    await menu.focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Export again')
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    await page.waitForURL(url => url.pathname === '/analytics/datasets')
    expect(Object.fromEntries(new URL(page.url()).searchParams)).toEqual({ export: MONTHLY.id, from: jobs.api.job_id })

    await visit(page, `${baseUrl}/analytics/exports`)
    await menu.focus()
    await page.keyboard.press('Enter')
    await items.first().waitFor()
    await page.getByRole('menuitem', { name: 'Make a schedule' }).click()
    await page.waitForURL(url => url.pathname === '/analytics/datasets')
    expect(Object.fromEntries(new URL(page.url()).searchParams)).toEqual({ export: MONTHLY.id, from: jobs.api.job_id, schedule: '1' })

    // Delete asks first.
    await visit(page, `${baseUrl}/analytics/exports`)
    const target = row(jobs.manual)
    await target.getByTestId('history-menu').click()
    await page.getByRole('menuitem', { name: 'Delete' }).click()
    await page.getByTestId('history-delete-confirm').click()
    await expect.poll(() => target.getByTestId('history-status').textContent()).toBe('deleted')
  })

  it('a row opens its details beside the list, and ?job= opens them from a link', async () => {
    await freshPage()
    await signIn(page, baseUrl, user.email, user.password, '/analytics/exports')
    await row(jobs.api.job_id).getByTestId('history-open').focus()
    await page.keyboard.press('Enter')
    await page.waitForURL(url => url.searchParams.get('job') === jobs.api.job_id)
    const panel = page.getByTestId('export-details')
    await panel.waitFor()
    expect(await page.getByTestId('details-checksum').textContent()).toContain(jobs.api.checksum_sha256!)
    const text = await panel.textContent()
    for (const expected of ['Request', 'All dates', 'All columns', 'CSV', 'Comma delimiter', 'Timings', 'Queued for', 'Took', 'Attempts', 'File', 'SHA-256']) expect(text).toContain(expected)
    await screenshot(page, 'history-04-details')
    await expectAccessible(page, 'export details panel')
    await page.keyboard.press('Escape')
    await page.waitForURL(url => !url.searchParams.has('job'))

    // A deep link to an export on no loaded page: read on its own.
    await visit(page, `${baseUrl}/analytics/exports?job=${jobs.schedule.job_id}&source=api`)
    await panel.waitFor()
    expect(await page.getByTestId('details-checksum').textContent()).toContain(jobs.schedule.checksum_sha256!)
    expect(await panel.textContent()).toContain('Monthly for finance')
  })

  it('at phone width: cards with a full-width Download, and filters that fit', async () => {
    await freshPage({ width: 390, height: 844 })
    await signIn(page, baseUrl, user.email, user.password, '/analytics/exports')
    const card = page.locator(`[data-card-job-id="${jobs.api.job_id}"]`)
    await card.waitFor()
    expect(await page.getByTestId('history').isVisible()).toBe(false)
    const download = card.getByTestId('history-card-download')
    const [cardBox, buttonBox] = [await card.boundingBox(), await download.boundingBox()]
    expect(buttonBox!.width).toBeGreaterThan(cardBox!.width - 40)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(page, 'history-05-phone')
    await expectAccessible(page, 'export history at phone width')

    expect(await page.getByTestId('filter-source').isVisible()).toBe(false)
    await page.getByTestId('filters-toggle').click()
    await page.getByTestId('filter-source').click()
    await page.getByRole('option', { name: 'API', exact: true }).click()
    await page.waitForURL(url => url.searchParams.get('source') === 'api')
    await expect.poll(() => page.getByTestId('filters-toggle').textContent()).toContain('Filters (1)')
    await expect.poll(() => page.locator('[data-testid="history-card"]').evaluateAll(els => els.every(e => e.textContent?.includes('API')))).toBe(true)
    await screenshot(page, 'history-06-phone-filtered')

    await card.getByRole('button', { name: /^Details of the/ }).click()
    await page.getByTestId('export-details').waitFor()
    expect(await page.getByTestId('details-checksum').textContent()).toContain(jobs.api.checksum_sha256!)
    await screenshot(page, 'history-08-phone-details')
    await expectAccessible(page, 'export details at phone width')
  })

  it('Edit and export, by keyboard, opens the dialog with the export\'s format, dates, condition and file options filled in', async () => {
    const editor = await newUser()
    const metadata = {
      dataset_id: MONTHLY.id, dataset_name: MONTHLY.name, format: 'json', compression: 'gzip', limit: 500, columns: ['month', 'net'],
      filters: { start_date: '2024-02-01', end_date: '2024-05-31', account_ids: [], tag_ids: [], row_filters: [{ column: 'net', op: 'gt', value: 100 }] }
    }
    const [earlier] = await db.$queryRaw<Array<{ id: string }>>`
      INSERT INTO jobs (user_id, type, status, source, metadata, completed_at, updated_at)
      VALUES (${editor.id}::uuid, 'EXPORT', 'cancelled', 'api', ${JSON.stringify(metadata)}::jsonb, now(), now())
      RETURNING id`
    await freshPage()
    await signIn(page, baseUrl, editor.email, editor.password, '/analytics/exports')
    await row(earlier!.id).getByTestId('history-menu').focus()
    await page.keyboard.press('Enter')
    await page.getByRole('menuitem').first().waitFor()
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    await page.waitForURL(url => url.pathname === '/analytics/datasets' && url.searchParams.get('from') === earlier!.id)

    await page.getByTestId('export-form').waitFor()
    await expect.poll(() => page.getByRole('radio', { name: 'Custom', exact: true }).getAttribute('aria-checked')).toBe('true')
    expect(await page.getByLabel('Start date').inputValue()).toBe('2024-02-01')
    expect(await page.getByLabel('End date').inputValue()).toBe('2024-05-31')
    expect(await page.getByRole('combobox', { name: 'Condition 1: column' }).textContent()).toContain('net')
    expect(await page.getByLabel('Condition 1: value').inputValue()).toBe('100')
    expect(await page.getByTestId('columns-count').textContent()).toBe(`2 of ${MONTHLY.columns.length} columns`)
    expect(await page.getByTestId('file-options-summary').textContent()).toBe('JSON · gzip · first 500 rows')
    await screenshot(page, 'history-09-edit-prefilled')
    await expectAccessible(page, 'export dialog prefilled from the history')
  })

  it('a new user\'s empty history leads to the datasets', async () => {
    const fresh = await newUser()
    await freshPage()
    await signIn(page, baseUrl, fresh.email, fresh.password, '/analytics/exports')
    await page.getByTestId('history-empty').waitFor()
    await screenshot(page, 'history-07-empty')
    await expectAccessible(page, 'empty export history')
    await page.getByRole('link', { name: 'Export a dataset' }).click()
    await page.waitForURL(url => url.pathname === '/analytics/datasets')
  })
})
