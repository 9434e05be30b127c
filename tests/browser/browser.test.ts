import type pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { openWarehouse, queryRows } from '#server/lib/warehouse/duckdb'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { expectAccessible, hydrated, launchBrowser, screenshot, signIn, visit } from '../helpers/browser'
import { withPg } from '../helpers/database'
import { client } from '../helpers/http'
import { readParquetRows } from '../helpers/readers'

const baseUrl = inject('baseUrl')
const demo = inject('demo')
const env = inject('env')
const [alice, bob] = demo.users as [typeof demo.users[0], typeof demo.users[0]]
const TRANSACTIONS = DATASETS[0]!

let browser: Browser
let context: BrowserContext
let page: Page

beforeAll(async () => {
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
})
async function freshPage(viewport = { width: 1280, height: 900 }, colorScheme: 'light' | 'dark' = 'light') {
  context = await browser.newContext({ viewport, colorScheme, acceptDownloads: true })
  page = await context.newPage()
  return page
}
afterEach(async () => {
  await context?.close()
})

const withDb = <T>(run: (db: pg.Client) => Promise<T>) => withPg(env.DATABASE_URL!, run)

/** A job no worker will claim for an hour (run_at in the future): it stays queued until we say so. */
function insertQueuedJob(userId: string): Promise<string> {
  return withDb(async db => (await db.query(`INSERT INTO jobs (user_id, type, status, metadata, progress, run_at, updated_at)
    VALUES ($1, 'EXPORT', 'pending', $2, '{"phase":"queued","percent":0,"rows":null,"bytes_uploaded":null}', now() + interval '1 hour', now()) RETURNING id`,
  [userId, JSON.stringify({ dataset_id: TRANSACTIONS.id, dataset_name: TRANSACTIONS.name, format: 'csv', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] } })])).rows[0].id as string)
}

async function pickOption(testId: string, option: string) {
  await page.getByTestId(testId).click()
  await page.getByRole('option', { name: option, exact: true }).click()
  await page.keyboard.press('Escape')
}

describe('signed out', () => {
  it('every app page sends you to sign-in and back where you were', async () => {
    await freshPage()
    await visit(page, `${baseUrl}/analytics/exports`)
    await page.waitForURL(/\/login\?redirect=/)
    await screenshot(page, '01-sign-in')
    await expectAccessible(page, 'sign-in page')
    await page.getByLabel('Email').fill(alice.email)
    await page.getByLabel('Password').fill('wrong password')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Incorrect email or password')
    await screenshot(page, '02-sign-in-error')
    await expectAccessible(page, 'sign-in page with an error')
    await page.getByLabel('Password').fill(alice.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${baseUrl}/analytics/exports`)
  })
})

describe('export dialog', () => {
  it('exports Transactions as Parquet with a date range, an account and a tag, and downloads the right rows', async () => {
    await freshPage()
    await signIn(page, baseUrl, alice.email, alice.password)
    for (const dataset of DATASETS) await expect.poll(() => page.getByText(dataset.title, { exact: true }).count()).toBe(1)
    await expect.poll(() => page.getByText('Export your financial data for external analysis').count()).toBe(1)
    await screenshot(page, '03-datasets')
    await expectAccessible(page, 'datasets page')

    const accountName = await withDb(async db => (await db.query('SELECT name FROM accounts WHERE id = $1', [alice.account_ids[0]])).rows[0].name as string)
    const tagName = await withDb(async db => (await db.query('SELECT name FROM tags WHERE id = $1', [alice.tag_ids[1]])).rows[0].name as string)

    await page.getByRole('button', { name: 'Export Transactions' }).click()
    await page.getByTestId('file-options-toggle').click()
    await page.getByText('Parquet', { exact: true }).click()
    await page.getByText('Custom', { exact: true }).click()
    await page.getByLabel('Start date').fill('2025-01-01')
    await page.getByLabel('End date').fill('2025-12-31')
    await pickOption('accounts', accountName)
    await pickOption('tags', tagName)
    await screenshot(page, '04-dialog-form')
    await expectAccessible(page, 'export dialog form (filters chosen)')
    await page.getByTestId('start-export').click()

    // Progress (or an already completed export: the demo data is small), then completion.
    await page.getByTestId('export-status').waitFor()
    await screenshot(page, '05-dialog-progress')
    await expectAccessible(page, 'export dialog progress')
    await page.locator('[data-testid="export-status"][data-status="completed"]').waitFor({ timeout: 30_000 })
    await screenshot(page, '06-dialog-completed')
    await expectAccessible(page, 'export dialog completed')

    const warehouse = await openWarehouse(env.WAREHOUSE_PATH!)
    const connection = await warehouse.connect()
    const [{ n }] = await queryRows<{ n: string }>(connection, `SELECT count(*)::VARCHAR AS n FROM transactions
      WHERE user_id = '${alice.user_id}' AND transaction_date BETWEEN DATE '2025-01-01' AND DATE '2025-12-31'
        AND account_id = '${alice.account_ids[0]}' AND list_contains(tag_ids, '${alice.tag_ids[1]}'::UUID)`) as [{ n: string }]
    connection.closeSync()
    warehouse.closeSync()
    expect(Number(n)).toBeGreaterThan(0)
    const summary = await page.getByTestId('export-summary').textContent()
    expect(summary).toContain(`${Number(n).toLocaleString('en-US')} rows`)

    // The button goes through the download route (where the download is audited), with the page's session.
    const href = await page.getByTestId('download').getAttribute('href')
    expect(href).toMatch(/^\/api\/analytics\/exports\/[0-9a-f-]{36}\/download$/)
    const res = await page.request.get(new URL(href!, baseUrl).toString())
    expect(res.status()).toBe(200)
    expect(res.headers()['content-disposition']).toContain('fct_transactions_2025-01-01_to_2025-12-31.parquet')
    const { rows } = readParquetRows(new Uint8Array(await res.body()))
    expect(rows.length).toBe(Number(n))
    expect(await page.getByTestId('curl').textContent()).toContain('/download')
  })

  it('refuses an end date before the start date in the form, and shows server field errors on their fields', async () => {
    await freshPage()
    await signIn(page, baseUrl, bob.email, bob.password)
    await page.getByRole('button', { name: 'Export Monthly Trends' }).click()
    await page.getByText('Custom', { exact: true }).click()
    await page.getByLabel('Start date').fill('2025-06-01')
    await page.getByLabel('End date').fill('2025-05-01')
    await page.getByTestId('start-export').click()
    await expect.poll(() => page.getByText('The end date must be on or after the start date').count()).toBe(1)
    await screenshot(page, '07-dialog-field-error')
    await expectAccessible(page, 'export dialog with a field error')
    const before = await withDb(async db => (await db.query('SELECT count(*)::int AS n FROM jobs WHERE user_id = $1', [bob.user_id])).rows[0].n)

    // The server's own verdict (here: an account that is not the user's) lands on its field.
    await page.route('**/api/analytics/exports', route => route.fulfill({
      status: 400,
      contentType: 'application/json',
      body: JSON.stringify({ statusCode: 400, message: 'Invalid request', data: { errors: [{ field: 'account_ids', message: 'Not your accounts: 123' }] } })
    }))
    await page.getByLabel('End date').fill('2025-07-01')
    await page.getByTestId('start-export').click()
    await expect.poll(() => page.getByText('Not your accounts: 123').count()).toBeGreaterThan(0)
    expect(await withDb(async db => (await db.query('SELECT count(*)::int AS n FROM jobs WHERE user_id = $1', [bob.user_id])).rows[0].n)).toBe(before)
  })

  it('re-attaches to a queued export after a reload, follows it to completion, and lists it in history', async () => {
    await freshPage()
    await signIn(page, baseUrl, bob.email, bob.password)
    const jobId = await insertQueuedJob(bob.user_id)

    await visit(page, `${baseUrl}/analytics/datasets?export=${TRANSACTIONS.id}&job=${jobId}`)
    await expect.poll(() => page.getByTestId('export-phase').textContent()).toMatch(/Queued/)
    await page.reload()
    await hydrated(page)
    await expect.poll(() => page.getByTestId('export-phase').textContent()).toMatch(/Queued/)
    await screenshot(page, '08-dialog-queued')
    await expectAccessible(page, 'export dialog queued')

    await withDb(db => db.query(`UPDATE jobs SET run_at = now() WHERE id = $1; `, [jobId]).then(() => db.query('SELECT pg_notify(\'outport_jobs\', \'test\')')))
    await page.locator('[data-testid="export-status"][data-status="completed"]').waitFor({ timeout: 30_000 })
    expect(await page.getByTestId('export-summary').textContent()).toContain(`${bob.transactions.toLocaleString('en-US')} rows`)

    await page.keyboard.press('Escape')
    await visit(page, `${baseUrl}/analytics/exports`)
    await page.locator(`[data-job-id="${jobId}"]`).waitFor()
    await screenshot(page, '09-history')
    await expectAccessible(page, 'export history page')
  })

  it('does not show another user\'s export', async () => {
    const aliceJob = await client(baseUrl).createExport(alice.token, { dataset_id: DATASETS[2]!.id, format: 'csv' })
    await freshPage()
    await signIn(page, baseUrl, bob.email, bob.password)
    await visit(page, `${baseUrl}/analytics/datasets?export=${DATASETS[2]!.id}&job=${aliceJob}`)
    await expect.poll(() => page.getByText('Export not found').count()).toBe(1)
    expect(await page.getByTestId('download').count()).toBe(0)
  })

  it('works at phone width', async () => {
    await freshPage({ width: 390, height: 844 })
    await signIn(page, baseUrl, alice.email, alice.password)
    await page.getByRole('button', { name: 'Export Daily Spending by Tag' }).click()
    await page.getByTestId('start-export').waitFor()
    // Nothing wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(page, '10-phone-dialog')
    await expectAccessible(page, 'export dialog at phone width')
  })

  it('works by keyboard alone: the dialog traps focus, every field has a label, Escape closes', async () => {
    await freshPage({ width: 1280, height: 900 }, 'dark')
    await signIn(page, baseUrl, alice.email, alice.password)
    const exportButton = page.getByRole('button', { name: 'Export Transactions' })
    await exportButton.focus()
    await page.keyboard.press('Enter')
    await page.getByTestId('export-form').waitFor()
    const dialog = page.getByRole('dialog')
    for (let i = 0; i < 25; i++) {
      await page.keyboard.press('Tab')
      expect(await dialog.evaluate(el => el.contains(document.activeElement))).toBe(true)
    }
    // The dates as inputs are the Custom preset's; the select menus' names also carry what they show ("Accounts: All accounts"); the column "tags" is labelled "tags".
    await page.getByText('Custom', { exact: true }).click()
    for (const label of ['Start date', 'End date', 'Accounts', 'Tags']) expect({ label, count: await page.getByLabel(new RegExp(`^${label}`)).count() }).toEqual({ label, count: 1 })
    await screenshot(page, '12-dark-dialog')
    await expectAccessible(page, 'export dialog in dark mode')
    await page.keyboard.press('Escape')
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0)
  })

  it('cancels a queued export from the dialog', async () => {
    await freshPage()
    await signIn(page, baseUrl, alice.email, alice.password)
    const jobId = await insertQueuedJob(alice.user_id)
    await visit(page, `${baseUrl}/analytics/datasets?export=${TRANSACTIONS.id}&job=${jobId}`)
    await page.getByTestId('cancel-export').click()
    await page.locator('[data-testid="export-status"][data-status="cancelled"]').waitFor()
    await screenshot(page, '13-dialog-cancelled')
    await expectAccessible(page, 'export dialog cancelled')
    expect(await withDb(async db => (await db.query('SELECT status FROM jobs WHERE id = $1', [jobId])).rows[0].status)).toBe('cancelled')
  })
})

describe('live export status', () => {
  /** The dialog on a held job (queued an hour ahead) and every status read of it the page makes. */
  async function followHeld(block: boolean) {
    await freshPage()
    if (block) await page.route('**/api/analytics/exports/events**', route => route.abort())
    await signIn(page, baseUrl, alice.email, alice.password)
    const jobId = await insertQueuedJob(alice.user_id)
    const reads: string[] = []
    page.on('request', (request) => {
      if (request.method() === 'GET' && new URL(request.url()).pathname === `/api/analytics/exports/${jobId}`) reads.push(request.url())
    })
    const stream = block ? undefined : page.waitForResponse(res => res.url().includes(`/api/analytics/exports/events?job_id=${jobId}`))
    await visit(page, `${baseUrl}/analytics/datasets?export=${TRANSACTIONS.id}&job=${jobId}`)
    await expect.poll(() => page.getByTestId('export-phase').textContent()).toMatch(/Queued/)
    if (stream) expect((await stream).headers()['content-type']).toMatch(/^text\/event-stream/)
    return { jobId, reads }
  }

  const progress = (jobId: string, percent: number) => withDb(db => db.query(`UPDATE jobs SET status = 'running', started_at = coalesce(started_at, now()), progress = $2, updated_at = now() WHERE id = $1`,
    [jobId, JSON.stringify({ phase: 'querying', percent, rows: percent * 100, bytes_uploaded: null })]))
  const release = (jobId: string) => withDb(db => db.query(`UPDATE jobs SET status = 'pending', run_at = now() WHERE id = $1`, [jobId]).then(() => db.query('SELECT pg_notify(\'outport_jobs\', \'test\')')))

  it('the dialog follows its export from the event stream, without polling, to completion', async () => {
    const { jobId, reads } = await followHeld(false)
    // The stream is open once the first pushed change shows; from then on nothing is polled.
    await progress(jobId, 12)
    await expect.poll(() => page.getByTestId('export-status').textContent(), { timeout: 10_000 }).toContain('12%')
    const polled = reads.length
    for (const percent of [37, 64]) {
      await progress(jobId, percent)
      await expect.poll(() => page.getByTestId('export-status').textContent(), { timeout: 10_000 }).toContain(`${percent}%`)
      // Longer than the polling interval (1 s): a poller would have read the job meanwhile.
      await page.waitForTimeout(2500)
    }
    expect(reads.length).toBe(polled)
    await expectAccessible(page, 'export dialog following its stream')
    await release(jobId)
    await page.locator('[data-testid="export-status"][data-status="completed"]').waitFor({ timeout: 30_000 })
    // Completed: read once for its download link.
    expect(await page.getByTestId('download').getAttribute('href')).toBe(`/api/analytics/exports/${jobId}/download`)
  })

  it('the dialog still finishes by polling when the event stream is blocked', async () => {
    const { jobId, reads } = await followHeld(true)
    await progress(jobId, 42)
    await expect.poll(() => page.getByTestId('export-status').textContent(), { timeout: 10_000 }).toContain('42%')
    await release(jobId)
    await page.locator('[data-testid="export-status"][data-status="completed"]').waitFor({ timeout: 30_000 })
    expect(reads.length).toBeGreaterThan(2)
  })
})
