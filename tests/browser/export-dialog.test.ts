import type pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Browser, BrowserContext, Page, Request } from 'playwright-core'
import { createApiToken } from '#server/lib/auth/tokens'
import { createDb } from '#server/lib/db/client'
import { createUser } from '#server/lib/users'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { expectAccessible, launchBrowser, screenshot, settled, signIn, visit } from '../helpers/browser'
import { withPg } from '../helpers/database'

/**
 * The export dialog, data first (issue 31): date presets said in words, the preview, one columns
 * select, file options folded to a summary, Export now and Schedule…, remembered file options,
 * prefill from an earlier export, the running and finished states, at phone width and by keyboard.
 */
const baseUrl = inject('baseUrl')
const demo = inject('demo')
const env = inject('env')
const alice = demo.users[0]!
const TRANSACTIONS = DATASETS[0]!
const OTHER = DATASETS[1]!
const COLUMNS = TRANSACTIONS.columns.map(c => c.name)
const EXPORTS_URL = `${baseUrl}/api/analytics/exports`
const PREVIEW_URL = `${EXPORTS_URL}/preview`
const SCHEDULES_URL = `${baseUrl}/api/analytics/schedules`

interface TestUser { id: string, email: string, password: string, token: string }

let browser: Browser
let context: BrowserContext
let page: Page
let user: TestUser
/** Jobs inserted for a test, removed after it. */
const inserted: string[] = []

beforeAll(async () => {
  browser = await launchBrowser()
  // A user of its own: its exports and schedules meet no other suite's counts (it has no rows, which is fine here).
  const db = createDb(env.DATABASE_URL!, { max: 1 })
  try {
    const email = `dialog-${Date.now()}@example.com`
    const created = await createUser(db, { email, password: 'dialog-password' })
    user = { id: created.id, email, password: 'dialog-password', token: (await createApiToken(db, created.id, 'dialog tests')).token }
  } finally {
    await db.$disconnect()
  }
})
afterAll(async () => {
  await browser?.close()
})
afterEach(async () => {
  await context?.close()
  if (inserted.length) await withDb(db => db.query('DELETE FROM jobs WHERE id = ANY($1::uuid[])', [inserted.splice(0)]))
})

const withDb = <T>(run: (db: pg.Client) => Promise<T>) => withPg(env.DATABASE_URL!, run)

async function api<T>(path: string, token = user.token): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })
  expect(res.status).toBe(200)
  return await res.json() as T
}

/** Dates as the browser (time zone UTC here) resolves the presets today. */
function today() {
  return new Date().toISOString().slice(0, 10)
}
function lastMonth() {
  const first = new Date(`${today().slice(0, 8)}01T00:00:00Z`)
  const end = new Date(first.getTime() - 86_400_000)
  return { start_date: `${end.toISOString().slice(0, 8)}01`, end_date: end.toISOString().slice(0, 10) }
}
const dayText = (date: string, year = true) => new Date(`${date}T00:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC', ...(year && { year: 'numeric' }) })

async function newPage(viewport = { width: 1280, height: 900 }, who: { email: string, password: string } = user) {
  context = await browser.newContext({ viewport, timezoneId: 'UTC', locale: 'en-GB' })
  page = await context.newPage()
  await signIn(page, baseUrl, who.email, who.password)
  return page
}

async function openDialog(dataset = TRANSACTIONS) {
  await page.getByRole('button', { name: `Export ${dataset.title}` }).click()
  await page.getByTestId('export-form').waitFor()
}

/** A job no worker picks up, as the given user's, to answer an intercepted create call with (or to prefill from). */
async function insertJob(owner: string, status: string, metadata: Record<string, unknown>, progress = { phase: 'queued', percent: 0, rows: null, bytes_uploaded: null }): Promise<string> {
  const id = await withDb(async db => (await db.query(`INSERT INTO jobs (user_id, type, status, metadata, progress, run_at, updated_at, started_at)
    VALUES ($1, 'EXPORT', $2, $3, $4, now() + interval '1 hour', now(), CASE WHEN $5 THEN now() END) RETURNING id`,
  [owner, status, JSON.stringify({ dataset_id: TRANSACTIONS.id, dataset_name: TRANSACTIONS.name, format: 'csv', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }, ...metadata }), JSON.stringify(progress), status === 'running'])).rows[0].id as string)
  inserted.push(id)
  return id
}

/** Answers the create call with this job and hands back the request the dialog sent. */
async function interceptCreate(jobId: string): Promise<() => Promise<Request>> {
  await page.route(EXPORTS_URL, route => route.request().method() === 'POST'
    ? route.fulfill({ status: 202, contentType: 'application/json', body: JSON.stringify({ job_id: jobId, status: 'pending', message: 'queued' }) })
    : route.continue())
  const sent = page.waitForRequest(req => req.url() === EXPORTS_URL && req.method() === 'POST')
  return () => sent
}

const radio = (name: string) => page.getByRole('radio', { name, exact: true })
/** The radios drawn as buttons are visually hidden: a click lands on the label around each, as a user's does. */
const choose = (name: string) => radio(name).locator('xpath=ancestor::label[1]').click()
const isChecked = async (name: string) => (await radio(name).getAttribute('aria-checked')) === 'true'
/** The focused control's visible name: a radio's is its <label>'s text. */
const focusedText = () => page.evaluate(() => {
  const el = document.activeElement as HTMLButtonElement | null
  return (el?.labels?.[0] ?? el)?.textContent?.trim() ?? ''
})

describe('export dialog, data first', () => {
  it('date presets say what they cover; Last month exports last month\'s dates; the finished state says how long the file is kept', async () => {
    await newPage()
    await openDialog()
    const coverage = page.getByTestId('date-coverage')
    expect(await isChecked('All dates')).toBe(true)
    expect(await coverage.textContent()).toContain('Every row, whatever its date: no date filter.')
    expect(await page.getByLabel('Start date').count()).toBe(0)
    // The data comes before the file: dates, accounts, conditions, preview, columns, then the folded file options.
    const order = await page.evaluate(() => ['date-range', 'accounts', 'conditions', 'preview', 'columns', 'file-options']
      .map(id => document.querySelector(`[data-testid="${id}"]`)!.getBoundingClientRect().top))
    expect(order).toEqual([...order].sort((a, b) => a - b))
    await screenshot(page, 'dialog-01-opened')
    await expectAccessible(page, 'export dialog, all dates')

    const month = lastMonth()
    await choose('Last month')
    expect(await coverage.textContent()).toContain(`Rows dated ${dayText(month.start_date, false)} – ${dayText(month.end_date)}.`)
    await choose('Custom')
    // Custom starts from the dates shown, to adjust.
    expect(await page.getByLabel('Start date').inputValue()).toBe(month.start_date)
    expect(await page.getByLabel('End date').inputValue()).toBe(month.end_date)
    await screenshot(page, 'dialog-02-custom-dates')
    await expectAccessible(page, 'export dialog, custom dates')
    await choose('Last month')
    expect(await page.getByLabel('Start date').count()).toBe(0)

    await page.getByTestId('start-export').click()
    await page.waitForURL(/job=/)
    const jobId = new URL(page.url()).searchParams.get('job')!
    const job = await api<{ filters: { start_date: string, end_date: string } }>(`/api/analytics/exports/${jobId}`)
    expect(job.filters).toMatchObject(month)

    // This user has no rows: the export finishes at once, empty.
    await page.locator('[data-testid="export-status"][data-status="completed"]').waitFor({ timeout: 60_000 })
    expect(await page.getByTestId('export-request-summary').textContent()).toContain(`Transactions · CSV · last month · ${COLUMNS.length} columns`)
    const kept = page.getByTestId('file-kept')
    expect(await kept.textContent()).toMatch(/Available until \d{1,2} [A-Z][a-z]{2}, \d\d:\d\d — download again from the history\./)
    expect(await page.getByTestId('history-link').getAttribute('href')).toBe(`/analytics/exports?job=${jobId}`)
    expect(await page.getByRole('button', { name: 'Schedule this' }).isVisible()).toBe(true)
    await screenshot(page, 'dialog-03-finished')
    await expectAccessible(page, 'export dialog, finished')

    // Change and export again: the form, with the same choices.
    await page.getByRole('button', { name: 'Change and export again' }).click()
    await page.getByTestId('export-form').waitFor()
    expect(await isChecked('Last month')).toBe(true)

    // Schedule this (after a reload, from the job alone): the schedule form with the matching range.
    await visit(page, `${baseUrl}/analytics/datasets?export=${TRANSACTIONS.id}&job=${jobId}`)
    await page.getByRole('button', { name: 'Schedule this' }).click()
    await page.getByTestId('schedule-form').waitFor()
    expect(await page.getByTestId('schedule-range').textContent()).toContain('Previous month')
    expect(await page.getByTestId('schedule-frequency').textContent()).toContain('Monthly')
    await expectAccessible(page, 'export dialog, schedule this')
  })

  it('columns are one multi-select; file options fold to one line and are remembered per dataset', async () => {
    await newPage()
    await openDialog()
    const count = page.getByTestId('columns-count')
    expect(await count.textContent()).toBe(`All ${COLUMNS.length} columns`)
    const select = page.getByTestId('columns-select')
    expect(await select.getAttribute('aria-label')).toBe(`Columns: All ${COLUMNS.length} columns`)
    await select.click()
    const option = (name: string) => page.getByRole('option', { name, exact: true })
    await option(COLUMNS[1]!).click()
    await option(COLUMNS[2]!).click()
    expect(await count.textContent()).toBe(`${COLUMNS.length - 2} of ${COLUMNS.length} columns`)
    await screenshot(page, 'dialog-04-columns-open')
    await page.keyboard.press('Escape')
    await expect.poll(() => page.getByRole('listbox').count()).toBe(0)
    expect(await page.getByRole('dialog').count()).toBe(1)
    // Checked once closed: Reka's open listbox holds its search box, which axe files under aria-required-children.
    await expectAccessible(page, 'export dialog, some columns chosen')

    const toggle = page.getByTestId('file-options-toggle')
    const summary = page.getByTestId('file-options-summary')
    expect(await summary.textContent()).toBe('CSV · uncompressed · no limit')
    expect(await toggle.getAttribute('aria-expanded')).toBe('false')
    expect(await radio('Parquet').count()).toBe(0)
    await toggle.click()
    expect(await toggle.getAttribute('aria-expanded')).toBe('true')
    await page.getByRole('group', { name: 'Compression' }).getByRole('radio', { name: 'gzip' }).locator('xpath=ancestor::label[1]').click()
    expect(await summary.textContent()).toBe('CSV · gzip · no limit')
    await choose('Parquet')
    await page.getByTestId('parquet-compression').getByRole('radio', { name: /Snappy/ }).locator('xpath=ancestor::label[1]').click()
    await page.getByLabel('Row limit').fill('500')
    expect(await summary.textContent()).toBe('Parquet · Snappy · first 500 rows')
    expect(await page.getByTestId('format-description').textContent()).toContain('pandas, DuckDB, BI tools')
    await page.getByTestId('file-options').scrollIntoViewIfNeeded()
    await screenshot(page, 'dialog-05-file-options')
    await expectAccessible(page, 'export dialog, file options open')

    const sent = await interceptCreate(await insertJob(user.id, 'pending', {}))
    await page.getByTestId('start-export').click()
    expect((await sent()).postDataJSON()).toEqual({ dataset_id: TRANSACTIONS.id, format: 'parquet', parquet_compression: 'snappy', limit: 500, columns: COLUMNS.filter((_, i) => i !== 1 && i !== 2) })

    // Reopened: the file options come back folded, as they were; the data choices start afresh; another dataset has its own.
    await visit(page, `${baseUrl}/analytics/datasets`)
    await openDialog()
    expect(await summary.textContent()).toBe('Parquet · Snappy · first 500 rows')
    expect(await toggle.getAttribute('aria-expanded')).toBe('false')
    expect(await count.textContent()).toBe(`All ${COLUMNS.length} columns`)
    await page.keyboard.press('Escape')
    await page.getByTestId('export-form').waitFor({ state: 'detached' })
    await openDialog(OTHER)
    expect(await summary.textContent()).toBe('CSV · uncompressed · no limit')
  })

  it('?from= fills every field from an earlier export; ?schedule=1 opens it as a schedule carrying them', async () => {
    // Alice's own accounts and tags, so their names show.
    const [account] = await api<{ id: string, name: string }[]>('/api/accounts', alice.token)
    const [tag] = await api<{ id: string, name: string }[]>('/api/tags', alice.token)
    const columns = COLUMNS.slice(0, 4)
    const from = await insertJob(alice.user_id, 'cancelled', {
      format: 'csv', compression: 'gzip', columns, limit: 1000, max_part_mb: 256,
      csv: { delimiter: ';', header: true, bom: true, formula_guard: true },
      filters: { start_date: '2025-06-01', end_date: '2025-06-30', account_ids: [account!.id], tag_ids: [tag!.id], row_filters: [{ column: 'amount', op: 'lt', value: -100 }] }
    })
    await newPage(undefined, alice)
    await visit(page, `${baseUrl}/analytics/datasets?export=${TRANSACTIONS.id}&from=${from}`)
    await page.getByTestId('export-form').waitFor()
    await expect.poll(() => isChecked('Custom')).toBe(true)
    expect(await page.getByLabel('Start date').inputValue()).toBe('2025-06-01')
    expect(await page.getByLabel('End date').inputValue()).toBe('2025-06-30')
    expect(await page.getByTestId('date-coverage').textContent()).toContain('1 Jun – 30 Jun 2025')
    await expect.poll(() => page.getByTestId('accounts').textContent()).toContain(account!.name)
    await expect.poll(() => page.getByTestId('tags').textContent()).toContain(tag!.name)
    expect(await page.getByRole('combobox', { name: 'Condition 1: column' }).textContent()).toContain('amount')
    expect(await page.getByLabel('Condition 1: value').inputValue()).toBe('-100')
    expect(await page.getByTestId('columns-count').textContent()).toBe(`4 of ${COLUMNS.length} columns`)
    expect(await page.getByTestId('file-options-summary').textContent()).toBe('CSV · gzip · first 1,000 rows · parts of 256 MB · custom CSV options')
    await screenshot(page, 'dialog-06-prefilled')
    await expectAccessible(page, 'export dialog, prefilled from an earlier export')
    const expected = {
      dataset_id: TRANSACTIONS.id, format: 'csv', start_date: '2025-06-01', end_date: '2025-06-30', account_ids: [account!.id], tag_ids: [tag!.id],
      compression: 'gzip', columns, limit: 1000, csv: { delimiter: ';', header: true, bom: true, formula_guard: true },
      row_filters: [{ column: 'amount', op: 'lt', value: '-100' }], max_part_mb: 256
    }
    const sent = await interceptCreate(await insertJob(alice.user_id, 'pending', {}))
    await page.getByTestId('start-export').click()
    const body = (await sent()).postDataJSON()
    expect({ ...body, row_filters: body.row_filters.map((f: { value: unknown }) => ({ ...f, value: String(f.value) })) }).toEqual(expected)

    // Straight into the schedule form: custom June dates become the last 30 days; the rest is carried.
    await page.route(SCHEDULES_URL, route => route.request().method() === 'POST'
      ? route.fulfill({ status: 201, json: { id: '00000000-0000-4000-8000-000000000031', next_run_at: new Date(Date.now() + 86_400_000).toISOString() } })
      : route.continue())
    await visit(page, `${baseUrl}/analytics/datasets?export=${TRANSACTIONS.id}&from=${from}&schedule=1`)
    await page.getByTestId('schedule-form').waitFor()
    expect(await page.getByRole('dialog').getAttribute('aria-labelledby')).toBeTruthy()
    expect(await page.getByRole('heading', { name: 'Schedule: Transactions' }).count()).toBe(1)
    expect(await page.getByTestId('schedule-range').textContent()).toContain('Last N days')
    expect(await page.getByLabel('Days').inputValue()).toBe('30')
    await screenshot(page, 'dialog-07-prefilled-schedule')
    await expectAccessible(page, 'export dialog, prefilled schedule form')
    const saved = page.waitForRequest(req => req.url() === SCHEDULES_URL && req.method() === 'POST')
    await page.getByTestId('save-schedule').click()
    const schedule = (await saved).postDataJSON()
    expect(schedule).toMatchObject({ dataset_id: TRANSACTIONS.id, format: 'csv', compression: 'gzip', columns, limit: 1000, account_ids: [account!.id], tag_ids: [tag!.id], max_part_mb: 256, range: { last_n_days: 30 } })
    expect(schedule).not.toHaveProperty('start_date')
    await page.getByTestId('schedule-created').waitFor()
  })

  it('Schedule… turns the form into the schedule form, the preset into the matching relative range, and saves it', async () => {
    await newPage()
    await openDialog()
    await choose('Month to date')
    await page.getByTestId('repeat-export').click()
    await page.getByTestId('schedule-form').waitFor()
    expect(await page.getByTestId('schedule-range').textContent()).toContain('Month to date')
    expect(await page.getByTestId('schedule-frequency').textContent()).toContain('Daily')
    // Back (the form's Cancel) keeps what was chosen.
    await page.getByRole('button', { name: 'Cancel' }).click()
    await page.getByTestId('export-form').waitFor()
    expect(await isChecked('Month to date')).toBe(true)

    await choose('Last 7 days')
    await page.getByTestId('file-options-toggle').click()
    await choose('JSON Lines')
    await page.getByTestId('repeat-export').click()
    await page.getByTestId('schedule-form').waitFor()
    expect(await page.getByTestId('schedule-range').textContent()).toContain('Last N days')
    expect(await page.getByLabel('Days').inputValue()).toBe('7')
    await screenshot(page, 'dialog-08-schedule-form')
    await expectAccessible(page, 'export dialog as a schedule form')
    await page.getByTestId('save-schedule').click()
    await page.getByTestId('schedule-created').waitFor()
    const { schedules } = await api<{ schedules: { range: unknown, request: { format: string } }[] }>('/api/analytics/schedules')
    expect(schedules.map(s => ({ range: s.range, format: s.request.format }))).toContainEqual({ range: { last_n_days: 7 }, format: 'jsonl' })
  })

  it('while it runs: an indeterminate bar and "≈ N rows expected" until there is a percentage, and one line saying what it is', async () => {
    await newPage()
    // This user has no rows: the preview's answer says 50,000, as a big warehouse would.
    await page.route(PREVIEW_URL, async (route) => {
      const res = await route.fetch()
      await route.fulfill({ response: res, json: { ...(await res.json()), row_count: 50_000, estimated_bytes: 12_000_000 } })
    })
    await openDialog()
    await choose('Last month')
    await expect.poll(() => page.getByTestId('preview-summary').textContent(), { timeout: 10_000 }).toContain('≈ 50,000 rows')
    const running = await insertJob(user.id, 'running', { filters: { ...lastMonth(), account_ids: [], tag_ids: [] } }, { phase: 'querying', percent: 0, rows: null, bytes_uploaded: null })
    const sent = await interceptCreate(running)
    await page.getByTestId('start-export').click()
    await sent()
    await expect.poll(() => page.getByTestId('export-phase').textContent()).toContain('Querying')
    expect(await page.getByTestId('export-progress-text').textContent()).toContain('≈ 50,000 rows expected')
    expect(await page.getByTestId('export-progress-text').textContent()).not.toContain('%')
    expect(await page.getByTestId('export-progress').getAttribute('data-indeterminate')).toBe('true')
    expect(await page.getByTestId('export-request-summary').textContent()).toContain(`Transactions · CSV · last month · ${COLUMNS.length} columns`)
    await screenshot(page, 'dialog-09-running')
    await expectAccessible(page, 'export dialog, running without a percentage')

    await withDb(db => db.query(`UPDATE jobs SET progress = '{"phase":"querying","percent":40,"rows":20000,"bytes_uploaded":null}' WHERE id = $1`, [running]))
    await expect.poll(() => page.getByTestId('export-progress-text').textContent(), { timeout: 10_000 }).toContain('40%')
    expect(await page.getByTestId('export-progress').getAttribute('data-indeterminate')).toBe('false')
  })

  it('fills a phone\'s screen with the buttons in a footer that stays in view', async () => {
    await newPage({ width: 390, height: 844 })
    await openDialog()
    const dialog = page.getByRole('dialog')
    await settled(page)
    expect(await dialog.boundingBox()).toEqual({ x: 0, y: 0, width: 390, height: 844 })
    await page.getByTestId('file-options-toggle').click()
    // Scrolled to the end of the form, the footer's buttons are still on screen.
    await page.getByTestId('csv-options').scrollIntoViewIfNeeded()
    for (const name of ['Export now', 'Schedule…']) {
      const box = (await page.getByRole('button', { name }).boundingBox())!
      expect(box.y).toBeGreaterThan(600)
      expect(box.y + box.height).toBeLessThanOrEqual(844)
    }
    const wide = await page.evaluate(() => [...document.querySelectorAll('[role="dialog"] *')]
      .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5 && !el.closest('[data-testid="preview-table"] table'))
      .map(el => el.outerHTML.slice(0, 80)))
    expect(wide).toEqual([])
    await screenshot(page, 'dialog-10-phone')
    await expectAccessible(page, 'export dialog at phone width')

    // The schedule form's Cancel and Save are in the same footer, in view at the end of its fields.
    await page.getByTestId('repeat-export').click()
    await page.getByTestId('schedule-form').waitFor()
    const footer = page.getByTestId('schedule-footer')
    await page.getByTestId('schedule-form').locator('input, button').last().scrollIntoViewIfNeeded()
    for (const name of ['Cancel', 'Save schedule']) {
      const box = (await footer.getByRole('button', { name }).boundingBox())!
      expect(box.y).toBeGreaterThan(600)
      expect(box.y + box.height).toBeLessThanOrEqual(844)
    }
    await screenshot(page, 'dialog-12-phone-schedule')
    await expectAccessible(page, 'export dialog as a schedule form at phone width')
    // Save, outside the form's element, still submits it.
    await footer.getByRole('button', { name: 'Save schedule' }).click()
    await page.getByTestId('schedule-created').waitFor()
    await footer.getByRole('button', { name: 'Back to the export' }).click()
    await page.getByTestId('export-form').waitFor()
  })

  it('works by keyboard alone from opening the dialog to Export now', async () => {
    await newPage()
    const dialog = page.getByRole('dialog')
    await page.getByRole('button', { name: `Export ${TRANSACTIONS.title}` }).focus()
    await page.keyboard.press('Enter')
    await page.getByTestId('export-form').waitFor()
    const focused = () => page.evaluate(() => {
      const el = document.activeElement
      return { role: el?.getAttribute('role') ?? el?.tagName.toLowerCase(), name: el?.getAttribute('aria-label') ?? '', text: el?.textContent?.trim() ?? '', testid: el?.getAttribute('data-testid') ?? '' }
    })
    const tabTo = async (test: (f: Awaited<ReturnType<typeof focused>>) => boolean) => {
      for (let i = 0; i < 40; i++) {
        if (test(await focused())) return
        await page.keyboard.press('Tab')
        expect(await dialog.evaluate(el => el.contains(document.activeElement))).toBe(true)
      }
      throw new Error('not reached by Tab')
    }
    // The presets are one tab stop on the chosen one; the arrows move along them.
    await tabTo(f => f.role === 'radio')
    expect(await focusedText()).toBe('All dates')
    for (const next of ['Year to date', 'Month to date', 'Last month']) {
      await page.keyboard.press('ArrowLeft')
      await expect.poll(focusedText).toBe(next)
    }
    await page.keyboard.press('Space')
    await expect.poll(() => isChecked('Last month')).toBe(true)

    // The columns: open the list, find one, untick it, close.
    await tabTo(f => f.name.startsWith('Columns:'))
    await page.keyboard.press('Enter')
    await page.getByRole('listbox').waitFor()
    await page.keyboard.type('amount')
    await page.keyboard.press('Enter')
    await expect.poll(() => page.getByTestId('columns-count').textContent()).toBe(`${COLUMNS.length - 1} of ${COLUMNS.length} columns`)
    await page.keyboard.press('Escape')
    await expect.poll(() => page.getByRole('listbox').count()).toBe(0)

    // File options: open with Space, then the format by arrows.
    await tabTo(f => f.testid === 'file-options-toggle')
    await page.keyboard.press('Space')
    await expect.poll(() => page.getByTestId('file-options-toggle').getAttribute('aria-expanded')).toBe('true')
    await page.keyboard.press('Tab')
    expect(await focusedText()).toBe('CSV')
    await page.keyboard.press('ArrowRight')
    await expect.poll(focusedText).toBe('Parquet')
    await page.keyboard.press('Space')
    await expect.poll(() => isChecked('Parquet')).toBe(true)
    await screenshot(page, 'dialog-11-keyboard')
    await expectAccessible(page, 'export dialog, chosen by keyboard')

    await tabTo(f => f.text === 'Export now')
    const sent = await interceptCreate(await insertJob(user.id, 'pending', {}))
    await page.keyboard.press('Enter')
    expect((await sent()).postDataJSON()).toEqual({ dataset_id: TRANSACTIONS.id, format: 'parquet', ...lastMonth(), columns: COLUMNS.filter(c => c !== 'amount') })
  })
})
