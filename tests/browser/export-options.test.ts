import type pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Browser, BrowserContext, Page, Request } from 'playwright-core'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { expectAccessible, launchBrowser, screenshot, signIn, visit } from '../helpers/browser'
import { withPg } from '../helpers/database'

/**
 * The export dialog's choices: formats, compression, columns, row limit, CSV options (under the
 * folded "File options"), the live preview and the Excel row limit, by mouse, by keyboard and at phone width.
 */
const baseUrl = inject('baseUrl')
const demo = inject('demo')
const env = inject('env')
const alice = demo.users[0]!
const TRANSACTIONS = DATASETS[0]!
const COLUMNS = TRANSACTIONS.columns.map(c => c.name)
const EXPORTS_URL = `${baseUrl}/api/analytics/exports`
const PREVIEW_URL = `${EXPORTS_URL}/preview`

// The preview route comes with the API side of this feature; its tests run once the server has it.
const previewExists = await fetch(PREVIEW_URL, {
  method: 'POST',
  headers: { 'authorization': `Bearer ${alice.token}`, 'content-type': 'application/json' },
  body: JSON.stringify({ dataset_id: TRANSACTIONS.id, format: 'csv' })
}).then(async res => res.ok && Array.isArray((await res.json().catch(() => null))?.columns))

let browser: Browser
let context: BrowserContext
const queued: string[] = []
let page: Page

beforeAll(async () => {
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
})
afterEach(async () => {
  await context?.close()
  // The queued jobs stand in for real ones: gone again, so they count against no limit.
  if (queued.length) await withDb(db => db.query('DELETE FROM jobs WHERE id = ANY($1::uuid[])', [queued.splice(0)]))
})

const withDb = <T>(run: (db: pg.Client) => Promise<T>) => withPg(env.DATABASE_URL!, run)

async function openDialog(viewport = { width: 1280, height: 900 }, colorScheme: 'light' | 'dark' = 'light', prepare?: (page: Page) => Promise<unknown>) {
  context = await browser.newContext({ viewport, colorScheme })
  page = await context.newPage()
  await prepare?.(page)
  await signIn(page, baseUrl, alice.email, alice.password)
  await page.getByRole('button', { name: `Export ${TRANSACTIONS.title}` }).click()
  await page.getByTestId('export-form').waitFor()
  return page
}

/** A queued job no worker picks up (run_at in an hour), to answer an intercepted create call with. */
async function queuedJob(): Promise<string> {
  const id = await withDb(async db => (await db.query(`INSERT INTO jobs (user_id, type, status, metadata, progress, run_at, updated_at)
    VALUES ($1, 'EXPORT', 'pending', $2, '{"phase":"queued","percent":0,"rows":null,"bytes_uploaded":null}', now() + interval '1 hour', now()) RETURNING id`,
  [alice.user_id, JSON.stringify({ dataset_id: TRANSACTIONS.id, dataset_name: TRANSACTIONS.name, format: 'csv', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] } })])).rows[0].id as string)
  queued.push(id)
  return id
}

/**
 * Answers the create call in the browser with a queued job and hands back the request the dialog
 * sent: the new fields are asserted as sent, whatever this server's schema accepts today.
 */
async function interceptCreate(): Promise<() => Promise<Request>> {
  const jobId = await queuedJob()
  await page.route(EXPORTS_URL, route => route.request().method() === 'POST'
    ? route.fulfill({ status: 202, contentType: 'application/json', body: JSON.stringify({ job_id: jobId, status: 'pending', message: 'queued' }) })
    : route.continue())
  const sent = page.waitForRequest(req => req.url() === EXPORTS_URL && req.method() === 'POST')
  return () => sent
}

const radio = (name: string) => page.getByRole('radio', { name, exact: true })
/** Radios drawn as buttons are visually hidden: the click lands on the label around each, as a user's does. */
const choose = (name: string, within: Page | ReturnType<Page['getByTestId']> = page) => within.getByRole('radio', { name, exact: true }).locator('xpath=ancestor::label[1]').click()
/** Unfolds "File options" (format, compression, limit, parts, CSV options) unless it is open. */
async function fileOptions() {
  const toggle = page.getByTestId('file-options-toggle')
  if (await toggle.getAttribute('aria-expanded') !== 'true') await toggle.click()
  await expect.poll(() => toggle.getAttribute('aria-expanded')).toBe('true')
}
const columnOption = (name: string) => page.getByRole('option', { name, exact: true })
/** Ticks or unticks a column in the columns list (opened if it is not). */
async function toggleColumn(name: string) {
  if (!await page.getByRole('listbox').count()) await page.getByTestId('columns-select').click()
  await columnOption(name).click()
}
async function closeColumns() {
  await page.keyboard.press('Escape')
  await expect.poll(() => page.getByRole('listbox').count()).toBe(0)
}
/** The ticked columns, as the open list shows them. */
async function checkedColumns(): Promise<string[]> {
  await page.getByTestId('columns-select').click()
  await page.getByRole('listbox').waitFor()
  const ticked: string[] = []
  for (const name of COLUMNS) {
    if (await columnOption(name).getAttribute('aria-selected') === 'true') ticked.push(name)
  }
  await closeColumns()
  return ticked
}

describe('export dialog options', () => {
  it('offers each format with who it is for, and compression only where it applies', async () => {
    await openDialog()
    await fileOptions()
    const formats = page.getByRole('group', { name: 'Format' })
    // One row of formats; the chosen one says who it is for.
    for (const [label, description] of [['CSV', 'Excel, Sheets, any tool'], ['Parquet', 'pandas, DuckDB, BI tools'],
      ['JSON Lines', 'Engineers: one object per line, streams into anything'], ['JSON', 'Web apps and scripts: one array'],
      ['Excel', 'Analysts: opens with a double-click']] as const) {
      expect(await formats.getByRole('radio', { name: label, exact: true }).count()).toBe(1)
      await choose(label)
      expect(await page.getByTestId('format-description').textContent()).toContain(description)
    }
    await choose('CSV')
    expect(await radio('CSV').getAttribute('aria-checked')).toBe('true')

    const fileCompression = page.getByRole('group', { name: 'Compression' })
    const visible = async () => ({ file: await page.getByTestId('compression').count(), parquet: await page.getByTestId('parquet-compression').count(), csv: await page.getByTestId('csv-options').count() })
    expect(await visible()).toEqual({ file: 1, parquet: 0, csv: 1 })
    for (const name of ['None', 'gzip', 'zstd']) expect(await fileCompression.getByRole('radio', { name, exact: true }).count()).toBe(1)

    await choose('Parquet')
    expect(await visible()).toEqual({ file: 0, parquet: 1, csv: 0 })
    expect(await page.getByTestId('parquet-compression').getByRole('radio', { name: 'zstd', exact: true }).getAttribute('aria-checked')).toBe('true')
    await screenshot(page, '14-dialog-parquet')
    await expectAccessible(page, 'dialog, Parquet chosen')

    await choose('JSON Lines')
    expect(await visible()).toEqual({ file: 1, parquet: 0, csv: 0 })
    await choose('JSON')
    expect(await visible()).toEqual({ file: 1, parquet: 0, csv: 0 })
    await choose('Excel')
    expect(await visible()).toEqual({ file: 0, parquet: 0, csv: 0 })
    await screenshot(page, '15-dialog-excel')
  })

  it('picks columns (all at first, none, all, some) and sends them in the order listed', async () => {
    await openDialog()
    expect(await checkedColumns()).toEqual(COLUMNS)
    expect(await page.getByTestId('columns-count').textContent()).toBe(`All ${COLUMNS.length} columns`)

    await page.getByRole('button', { name: 'Select none' }).click()
    expect(await checkedColumns()).toEqual([])
    expect(await page.getByTestId('columns-count').textContent()).toBe('No columns')
    let requests = 0
    page.on('request', (req) => {
      if (req.url() === EXPORTS_URL && req.method() === 'POST') requests++
    })
    await page.getByTestId('start-export').click()
    await expect.poll(() => page.getByText('Choose at least one column').count()).toBe(1)
    expect(requests).toBe(0)
    await screenshot(page, '16-dialog-no-columns')
    await expectAccessible(page, 'dialog, no column chosen')

    await page.getByRole('button', { name: 'Select all' }).click()
    expect(await checkedColumns()).toEqual(COLUMNS)

    // Ticked off and on in another order than listed: the request keeps the dataset's order.
    const [first, second, third] = COLUMNS as [string, string, string]
    await toggleColumn(third)
    await toggleColumn(first)
    await toggleColumn(second)
    await toggleColumn(third)
    await closeColumns()
    expect(await page.getByTestId('columns-count').textContent()).toBe(`${COLUMNS.length - 2} of ${COLUMNS.length} columns`)
    const sent = await interceptCreate()
    await page.getByTestId('start-export').click()
    const body = (await sent()).postDataJSON()
    expect(body.columns).toEqual(COLUMNS.filter(name => name !== first && name !== second))
    // Defaults stay out of the request: the server applies the same ones.
    expect(body).not.toHaveProperty('csv')
    expect(body).not.toHaveProperty('compression')
    expect(body).not.toHaveProperty('limit')
  })

  it('sends compression, row limit and the CSV options; explains the formula guard', async () => {
    await openDialog()
    await fileOptions()
    await choose('gzip', page.getByTestId('compression'))

    await page.getByLabel('Row limit').fill('0')
    await page.getByTestId('start-export').click()
    await expect.poll(() => page.getByText('A whole number from 1 to 100,000,000').count()).toBe(1)
    await page.getByLabel('Row limit').fill('5000')

    await page.getByTestId('csv-options').waitFor()
    const delimiter = page.getByRole('group', { name: 'Delimiter' })
    expect(await delimiter.getByRole('radio', { name: 'Comma ,' }).getAttribute('aria-checked')).toBe('true')
    expect(await page.getByRole('checkbox', { name: 'Header row' }).getAttribute('aria-checked')).toBe('true')
    expect(await page.getByRole('checkbox', { name: 'Byte order mark' }).getAttribute('aria-checked')).toBe('false')
    expect(await page.getByRole('checkbox', { name: 'Formula guard' }).getAttribute('aria-checked')).toBe('true')
    expect(await page.getByTestId('csv-options').textContent()).toContain('get a leading \' so a spreadsheet shows them as text instead of running them as formulas')

    await delimiter.getByRole('radio', { name: 'Semicolon ;' }).click()
    await page.getByRole('checkbox', { name: 'Byte order mark' }).click()
    await page.getByRole('checkbox', { name: 'Formula guard' }).click()
    await page.getByTestId('csv-options').scrollIntoViewIfNeeded()
    expect(await page.getByTestId('file-options-summary').textContent()).toBe('CSV · gzip · first 5,000 rows · custom CSV options')
    await screenshot(page, '17-dialog-advanced')
    await expectAccessible(page, 'dialog, CSV options shown')

    const sent = await interceptCreate()
    await page.getByTestId('start-export').click()
    const body = (await sent()).postDataJSON()
    expect(body).toEqual({
      dataset_id: TRANSACTIONS.id,
      format: 'csv',
      compression: 'gzip',
      limit: 5000,
      csv: { delimiter: ';', header: true, bom: true, formula_guard: false }
    })
    // The intercepted answer's job is followed like any other.
    await expect.poll(() => page.getByTestId('export-phase').textContent()).toMatch(/Queued/)
  })

  it('sends Parquet\'s own compression, and no CSV options for other formats', async () => {
    await openDialog()
    await fileOptions()
    await page.getByRole('checkbox', { name: 'Header row' }).click()
    await choose('Parquet')
    await choose('Snappy', page.getByTestId('parquet-compression'))
    const sent = await interceptCreate()
    await page.getByTestId('start-export').click()
    expect((await sent()).postDataJSON()).toEqual({ dataset_id: TRANSACTIONS.id, format: 'parquet', parquet_compression: 'snappy' })
  })

  it('works by keyboard alone: a column, the format, the row limit and Export now without the mouse', async () => {
    await openDialog({ width: 1280, height: 900 }, 'dark')
    const dialog = page.getByRole('dialog')
    const focused = () => page.evaluate(() => {
      const el = document.activeElement
      return { role: el?.getAttribute('role') ?? el?.tagName.toLowerCase(), type: el?.getAttribute('type'), text: el?.textContent?.trim() ?? '' }
    })
    const tabTo = async (test: (f: Awaited<ReturnType<typeof focused>>) => boolean) => {
      // Where the dialog put the focus when it opened counts as reached.
      for (let i = 0; i < 40; i++) {
        if (test(await focused())) return
        await page.keyboard.press('Tab')
        expect(await dialog.evaluate(el => el.contains(document.activeElement))).toBe(true)
      }
      throw new Error('not reached by Tab')
    }
    // The columns are one select: Enter opens it, the first column is highlighted, Enter unticks it.
    const first = COLUMNS[0]!
    await tabTo(f => f.text === `All ${COLUMNS.length} columns`)
    await page.keyboard.press('Enter')
    await page.getByRole('listbox').waitFor()
    await expect.poll(() => page.locator('[role="option"][data-highlighted]').textContent()).toContain(first)
    await page.keyboard.press('Enter')
    await expect.poll(() => columnOption(first).getAttribute('aria-selected')).toBe('false')
    await closeColumns()

    // File options unfold with Enter; the format group is one tab stop, the arrow keys move the choice within it.
    await tabTo(f => f.text.startsWith('File options'))
    await page.keyboard.press('Enter')
    await tabTo(f => f.role === 'radio')
    expect(await radio('CSV').evaluate(el => el === document.activeElement)).toBe(true)
    // ArrowRight moves to Parquet (Reka also checks it when the key is still down as the focus
    // arrives, which a slow machine can miss); Space checks the focused radio either way.
    await page.keyboard.press('ArrowRight')
    await expect.poll(() => radio('Parquet').evaluate(el => el === document.activeElement)).toBe(true)
    await page.keyboard.press('Space')
    await expect.poll(() => radio('Parquet').getAttribute('aria-checked')).toBe('true')
    expect(await page.getByTestId('parquet-compression').count()).toBe(1)

    await tabTo(f => f.type === 'number')
    await page.keyboard.type('100')
    await tabTo(f => f.text === 'Export now')
    await screenshot(page, '18-dark-dialog-keyboard')
    await expectAccessible(page, 'dialog in dark mode, chosen by keyboard')
    const sent = await interceptCreate()
    await page.keyboard.press('Enter')
    expect((await sent()).postDataJSON()).toEqual({ dataset_id: TRANSACTIONS.id, format: 'parquet', columns: COLUMNS.slice(1), limit: 100 })
  })

  it('keeps the new sections within a phone\'s width', async () => {
    await openDialog({ width: 390, height: 844 })
    await fileOptions()
    await page.getByTestId('csv-options').waitFor()
    const overflow = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      wide: [...document.querySelectorAll('[role="dialog"] *')]
        .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5 && !el.closest('[data-testid="preview-table"] table'))
        .map(el => el.outerHTML.slice(0, 80))
    }))
    expect(overflow).toEqual({ page: 390, wide: [] })
    await page.getByTestId('csv-options').scrollIntoViewIfNeeded()
    await screenshot(page, '19-phone-dialog-advanced')
    await expectAccessible(page, 'dialog at phone width, file options open')
  })

  it('without a preview route the dialog says so quietly and still starts the export', async () => {
    await openDialog(undefined, undefined, p => p.route(PREVIEW_URL, route => route.fulfill({ status: 404, json: { statusCode: 404 } })))
    await page.locator('[data-testid="preview"][data-state="unavailable"]').waitFor()
    expect(await page.getByTestId('preview-table').count()).toBe(0)
    expect(await page.getByTestId('preview-unavailable').textContent()).toContain('not available')
    await screenshot(page, '20-dialog-no-preview')
    const sent = await interceptCreate()
    await page.getByTestId('start-export').click()
    expect((await sent()).postDataJSON()).toEqual({ dataset_id: TRANSACTIONS.id, format: 'csv' })
  })
})

describe('row conditions', () => {
  it('adds conditions by keyboard alone, offers operators for the column\'s type, removes one with one click, and sends them', async () => {
    await openDialog()
    const asked: Record<string, unknown>[] = []
    page.on('request', req => req.url() === PREVIEW_URL && asked.push(req.postDataJSON()))
    const add = page.getByRole('button', { name: 'Add condition' })
    // By keyboard: a click can land beside the button when the preview's refresh moves it between press and release.
    const addCondition = async () => {
      await add.focus()
      await page.keyboard.press('Enter')
    }
    await add.focus()
    await page.keyboard.press('Enter')
    // The new condition's column has the focus: choose amount, then "<", then type the value.
    const column = page.getByRole('combobox', { name: 'Condition 1: column' })
    await expect.poll(() => column.evaluate(el => el === document.activeElement)).toBe(true)
    await page.keyboard.press('Enter')
    await page.getByRole('option', { name: 'amount', exact: true }).waitFor()
    await page.keyboard.type('amount')
    await page.keyboard.press('Enter')
    await expect.poll(() => column.textContent()).toContain('amount')
    await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    const options = page.getByRole('option')
    await options.first().waitFor()
    // A decimal offers comparisons, not text matching.
    expect((await options.allTextContents()).map(t => t.trim())).toEqual(['=', '≠', 'is one of', 'is none of', '<', '≤', '>', '≥', 'is between', 'is empty', 'is not empty'])
    const highlighted = () => page.locator('[role="option"][data-highlighted]').textContent()
    await expect.poll(highlighted).toContain('=')
    for (const next of ['≠', 'is one of', 'is none of', '<']) {
      await page.keyboard.press('ArrowDown')
      await expect.poll(highlighted).toBe(next)
    }
    await page.keyboard.press('Enter')
    await expect.poll(() => page.getByRole('combobox', { name: 'Condition 1: operator' }).textContent()).toContain('<')
    await page.keyboard.press('Tab')
    expect(await page.getByLabel('Condition 1: value').evaluate(el => el === document.activeElement && el.getAttribute('type'))).toBe('number')
    await page.keyboard.type('-100')

    // A text column offers contains; a list column takes chips.
    await addCondition()
    await page.getByRole('combobox', { name: 'Condition 2: column' }).click()
    await page.getByRole('option', { name: 'merchant', exact: true }).click()
    await page.getByRole('combobox', { name: 'Condition 2: operator' }).click()
    await page.getByRole('option', { name: 'contains', exact: true }).click()
    await page.getByLabel('Condition 2: value').fill('Amazon')
    await addCondition()
    await page.getByRole('combobox', { name: 'Condition 3: column' }).click()
    await page.getByRole('option', { name: 'currency', exact: true }).click()
    await page.getByRole('combobox', { name: 'Condition 3: operator' }).click()
    await page.getByRole('option', { name: 'is one of', exact: true }).click()
    const chips = page.getByTestId('condition').nth(2)
    for (const currency of ['EUR', 'GBP']) {
      // The input's own press: the first chip's preview refresh can move the focus before a page-level key arrives.
      const values = page.getByLabel('Condition 3: values')
      await values.fill(currency)
      await values.press('Enter')
      // Each value is a chip before the next is typed.
      await chips.getByText(currency, { exact: true }).waitFor()
    }

    const sentConditions = [{ column: 'amount', op: 'lt', value: '-100' }, { column: 'merchant', op: 'contains', value: 'Amazon' }, { column: 'currency', op: 'in', value: ['EUR', 'GBP'] }]
    await expect.poll(() => asked.at(-1)?.row_filters, { timeout: 10_000 }).toEqual(sentConditions)
    await page.getByTestId('conditions').scrollIntoViewIfNeeded()
    await screenshot(page, '25-dialog-conditions')
    await expectAccessible(page, 'dialog with three conditions')

    await page.getByRole('button', { name: 'Remove condition 2' }).click()
    expect(await page.getByTestId('condition').count()).toBe(2)
    await expect.poll(() => asked.at(-1)?.row_filters, { timeout: 10_000 }).toEqual([sentConditions[0], sentConditions[2]])
    // A condition without its value yet is not sent, and stops Start until it has one.
    await addCondition()
    let creates = 0
    page.on('request', req => req.url() === EXPORTS_URL && req.method() === 'POST' && creates++)
    await page.getByTestId('start-export').click()
    await expect.poll(() => page.getByText('Enter a value, or remove the condition').count()).toBe(1)
    expect(creates).toBe(0)
    await page.getByRole('button', { name: 'Remove condition 3' }).click()
    const sent = await interceptCreate()
    await page.getByTestId('start-export').click()
    expect((await sent()).postDataJSON()).toEqual({ dataset_id: TRANSACTIONS.id, format: 'csv', row_filters: [sentConditions[0], sentConditions[2]] })
  })

  it.skipIf(!previewExists)('the server\'s preview follows the conditions, with its bar chart readable as a table; the server\'s refusal lands on its condition', async () => {
    await openDialog()
    const summary = page.getByTestId('preview-summary')
    await summary.waitFor()
    const histogram = page.getByTestId('histogram')
    await histogram.waitFor()
    // Drawn for the eye (an SVG), and readable as a table with one row per bar.
    await expect.poll(() => histogram.locator('svg rect, svg path').count()).toBeGreaterThan(0)
    const caption = await histogram.locator('figcaption').textContent()
    expect(caption).toMatch(/^Rows per (day|week|month|quarter|year), .+ to .+: \d+ bars; the most, [\d,]+, in .+$/)
    const bars = await histogram.getByRole('table').locator('tbody tr').count()
    expect(caption).toContain(`${bars} bars`)
    const all = Number((await summary.textContent())!.match(/≈ ([\d,]+) rows/)![1]!.replaceAll(',', ''))

    await page.getByRole('button', { name: 'Add condition' }).click()
    await page.getByRole('combobox', { name: 'Condition 1: column' }).click()
    await page.getByRole('option', { name: 'amount', exact: true }).click()
    await page.getByRole('combobox', { name: 'Condition 1: operator' }).click()
    await page.getByRole('option', { name: '<', exact: true }).click()
    await page.getByLabel('Condition 1: value').fill('-50')
    await expect.poll(async () => Number((await summary.textContent())!.match(/≈ ([\d,]+) rows/)![1]!.replaceAll(',', '')), { timeout: 10_000 }).toBeLessThan(all)
    for (const amount of await page.getByTestId('preview-table').locator('tbody tr td:nth-child(5)').allTextContents()) expect(Number(amount)).toBeLessThan(-50)
    await histogram.scrollIntoViewIfNeeded()
    await screenshot(page, '26-dialog-conditions-live')
    await expectAccessible(page, 'dialog with a condition and the server\'s preview')

    // Three decimals on a DECIMAL(18,2): the server names the condition, the dialog shows it there.
    await page.getByLabel('Condition 1: value').fill('-50.125')
    await page.getByTestId('preview-error').waitFor({ timeout: 10_000 })
    expect(await page.getByTestId('preview-error').textContent()).toContain('Condition 1: Must be a number with at most 16 digits before the point and 2 after it')
  })

  it('keeps conditions within a phone\'s width', async () => {
    await openDialog({ width: 390, height: 844 })
    const add = page.getByRole('button', { name: 'Add condition' })
    await add.click()
    await add.click()
    await page.getByRole('combobox', { name: 'Condition 2: column' }).click()
    await page.getByRole('option', { name: 'tags', exact: true }).click()
    await page.getByLabel('Condition 2: values').fill('Groceries')
    await page.keyboard.press('Enter')
    await page.getByRole('combobox', { name: 'Condition 1: column' }).click()
    await page.getByRole('option', { name: 'transaction_date', exact: true }).click()
    await page.getByRole('combobox', { name: 'Condition 1: operator' }).click()
    await page.getByRole('option', { name: 'is between', exact: true }).click()
    expect(await page.getByLabel('Condition 1: low value').getAttribute('type')).toBe('date')
    const overflow = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      wide: [...document.querySelectorAll('[role="dialog"] *')]
        .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5 && !el.closest('[data-testid="preview-table"] table'))
        .map(el => el.outerHTML.slice(0, 80))
    }))
    expect(overflow).toEqual({ page: 390, wide: [] })
    await page.getByTestId('conditions').scrollIntoViewIfNeeded()
    await screenshot(page, '27-phone-dialog-conditions')
    await expectAccessible(page, 'dialog at phone width with conditions')
  })
})

describe('live preview, against the contract (the answers made in the browser)', () => {
  it('waits for a quiet moment, drops superseded answers, shows rows and size, field errors and Excel\'s limit', async () => {
    const asked: Record<string, unknown>[] = []
    let aborted = 0
    await openDialog(undefined, undefined, async (p) => {
      p.on('requestfailed', req => req.url() === PREVIEW_URL && aborted++)
      await p.route(PREVIEW_URL, async (route) => {
        const body = route.request().postDataJSON()
        asked.push(body)
        if (body.limit === 7) return route.fulfill({ status: 400, json: { statusCode: 400, message: 'Invalid request', data: { errors: [{ field: 'limit', message: 'Seven is not allowed here' }] } } })
        // A slow server: a change made meanwhile supersedes this answer.
        await new Promise(resolve => setTimeout(resolve, 600))
        const columns = (body.columns ?? COLUMNS).map((name: string) => ({ name, type: 'VARCHAR' }))
        const rows = Array.from({ length: 20 }, (_, i) => Object.fromEntries(columns.map((c: { name: string }) => [c.name, `${c.name} ${i + 1}`])))
        const rowCount = body.format === 'xlsx' ? 2_000_000 : body.end_date ? 1_234 : 48_213
        await route.fulfill({ json: { columns, rows, row_count: rowCount, estimated_bytes: rowCount * 240 } }).catch(() => {})
      })
    })
    const summary = page.getByTestId('preview-summary')
    await expect.poll(() => summary.textContent(), { timeout: 10_000 }).toContain('≈ 48,213 rows · about 11 MB')
    const table = page.getByTestId('preview-table')
    expect((await table.locator('thead th').allTextContents()).map(t => t.trim())).toEqual(COLUMNS)
    expect(await table.locator('tbody tr').count()).toBe(20)
    await table.scrollIntoViewIfNeeded()
    await screenshot(page, '21-dialog-preview')
    await expectAccessible(page, 'dialog with a preview')

    // Typing asks once the typing pauses, not once per key.
    await fileOptions()
    await page.getByLabel('Row limit').focus()
    await page.keyboard.type('123456', { delay: 15 })
    await expect.poll(() => summary.textContent(), { timeout: 10_000 }).toContain('≈ 48,213 rows')
    await expect.poll(() => asked.at(-1)?.limit).toBe(123456)
    expect(asked.filter(b => b.limit !== undefined).length).toBeLessThan(6)
    await page.getByLabel('Row limit').fill('')

    // The filters change the preview.
    await choose('Custom')
    await page.getByLabel('Start date').fill('2025-06-01')
    await page.getByLabel('End date').fill('2025-06-30')
    await expect.poll(() => summary.textContent(), { timeout: 10_000 }).toContain('≈ 1,234 rows')
    expect(asked.at(-1)).toMatchObject({ start_date: '2025-06-01', end_date: '2025-06-30' })

    // A change while an answer is on its way: that request is cancelled, the newer answer shown.
    const cancelledBefore = aborted
    await page.getByTestId('columns-select').click()
    const askedBefore = asked.length
    await columnOption(COLUMNS[0]!).click()
    await expect.poll(() => asked.length).toBe(askedBefore + 1)
    await columnOption(COLUMNS[1]!).click()
    await expect.poll(() => aborted, { timeout: 10_000 }).toBeGreaterThan(cancelledBefore)
    await expect.poll(async () => (await table.locator('thead th').allTextContents()).map(t => t.trim()), { timeout: 10_000 }).toEqual(COLUMNS.slice(2))
    await closeColumns()

    // The server's field error lands on its field.
    await page.getByLabel('Row limit').fill('7')
    await page.getByTestId('preview-error').waitFor()
    expect(await page.getByTestId('preview-error').textContent()).toContain('Row limit: Seven is not allowed here')
    expect(await page.getByLabel('Row limit').getAttribute('aria-invalid')).toBe('true')
    await page.getByLabel('Row limit').fill('')
    await expect.poll(() => page.getByTestId('preview-error').count(), { timeout: 10_000 }).toBe(0)

    // Excel: the row limit shows before Export now, and Export now does not send the request.
    await choose('Excel')
    const message = page.getByTestId('excel-limit')
    await message.waitFor({ timeout: 10_000 })
    expect(await message.textContent()).toContain('Excel holds at most 1,048,575 rows; this export has 2,000,000')
    await message.scrollIntoViewIfNeeded()
    await screenshot(page, '22-dialog-excel-limit')
    await expectAccessible(page, 'dialog with the Excel limit')
    let creates = 0
    page.on('request', (req) => {
      if (req.url() === EXPORTS_URL && req.method() === 'POST') creates++
    })
    await page.getByTestId('start-export').click()
    await expect.poll(() => page.getByRole('group', { name: 'Format' }).getAttribute('aria-invalid')).toBe('true')
    expect(creates).toBe(0)
    await page.getByLabel('Row limit').fill('1000')
    await expect.poll(() => message.count()).toBe(0)
  })
})

describe('live preview (the server\'s preview route)', () => {
  it.skipIf(!previewExists)('shows the first rows and "≈ N rows · about X", and follows the filters', async () => {
    await openDialog()
    const summary = page.getByTestId('preview-summary')
    await summary.waitFor()
    expect(await summary.textContent()).toMatch(new RegExp(`≈ ${alice.transactions.toLocaleString('en-US')} rows · about [\\d.,]+ (B|KB|MB)`))
    const table = page.getByTestId('preview-table')
    expect((await table.locator('thead th').allTextContents()).map(t => t.trim())).toEqual(COLUMNS)
    expect(await table.locator('tbody tr').count()).toBe(Math.min(20, alice.transactions))
    await screenshot(page, '23-dialog-preview-live')
    await expectAccessible(page, 'dialog with the server\'s preview')

    // Each change waits for a quiet moment and supersedes the request before it.
    const asked: string[] = []
    page.on('request', req => req.url() === PREVIEW_URL && asked.push(req.postData() ?? ''))
    await choose('Custom')
    await page.getByLabel('Start date').fill('2025-06-01')
    await page.getByLabel('End date').fill('2025-06-30')
    await expect.poll(() => summary.textContent(), { timeout: 10_000 }).not.toContain(alice.transactions.toLocaleString('en-US'))
    expect(asked.length).toBeGreaterThanOrEqual(1)
    expect(JSON.parse(asked.at(-1)!)).toMatchObject({ start_date: '2025-06-01', end_date: '2025-06-30' })

    await toggleColumn(COLUMNS[0]!)
    await expect.poll(async () => (await table.locator('thead th').allTextContents()).map(t => t.trim())).toEqual(COLUMNS.slice(1))
  })

  it.skipIf(!previewExists)('shows Excel\'s row limit before Export now, from the preview\'s row count', async () => {
    await openDialog()
    await fileOptions()
    // This warehouse is small: the preview's answer is the server's, with a count over Excel's limit.
    await page.route(PREVIEW_URL, async (route) => {
      const res = await route.fetch()
      route.fulfill({ response: res, json: { ...(await res.json()), row_count: 2_000_000 } })
    })
    await choose('Excel')
    const message = page.getByTestId('excel-limit')
    await message.waitFor()
    expect(await message.textContent()).toContain('Excel holds at most 1,048,575 rows; this export has 2,000,000')
    await screenshot(page, '24-dialog-excel-limit-live')
    await expectAccessible(page, 'dialog with the Excel limit (server\'s preview)')
    let requests = 0
    page.on('request', (req) => {
      if (req.url() === EXPORTS_URL && req.method() === 'POST') requests++
    })
    await page.getByTestId('start-export').click()
    await expect.poll(() => page.getByRole('group', { name: 'Format' }).getAttribute('aria-invalid')).toBe('true')
    expect(requests).toBe(0)

    await page.getByLabel('Row limit').fill('1000')
    await expect.poll(() => message.count()).toBe(0)
  })
})

describe('exports in parts', () => {
  it('splits by MB (and rows per workbook for Excel) by keyboard, shows the estimated parts, and fits a phone', async () => {
    await openDialog({ width: 390, height: 844 }, 'light', p => p.route(PREVIEW_URL, async (route) => {
      const body = route.request().postDataJSON()
      const res = await route.fetch()
      // The preview's own answer, with the estimate this request would give on a big warehouse.
      const parts = body.max_part_mb ? 12 : body.max_part_rows ? 3 : 1
      await route.fulfill({ response: res, json: { ...(await res.json()), row_count: 2_000_000, estimated_bytes: 3_000_000_000, estimated_parts: parts } })
    }))
    await fileOptions()
    const mb = page.getByLabel('Split into parts of … MB')
    await mb.focus()
    await page.keyboard.type('256')
    const estimate = page.getByTestId('estimated-parts')
    await expect.poll(() => estimate.textContent(), { timeout: 10_000 }).toContain('≈ 12 parts')
    await expect.poll(() => page.getByTestId('preview-summary').textContent()).toContain('in 12 parts')
    expect(await page.getByLabel('Rows per workbook').count()).toBe(0)
    const overflow = await page.evaluate(() => [...document.querySelectorAll('[role="dialog"] *')]
      .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5 && !el.closest('[data-testid="preview-table"] table'))
      .map(el => el.outerHTML.slice(0, 80)))
    expect(overflow).toEqual([])
    await page.getByTestId('parts').scrollIntoViewIfNeeded()
    await screenshot(page, '40-phone-dialog-parts')
    await expectAccessible(page, 'dialog at phone width, split into parts')

    // Excel over one sheet: refused until rows per workbook are set.
    await choose('Excel')
    await page.getByTestId('excel-limit').waitFor()
    expect(await page.getByTestId('excel-limit').textContent()).toContain('Set rows per workbook')
    await mb.fill('')
    const rows = page.getByLabel('Rows per workbook')
    await rows.focus()
    await page.keyboard.type('1000000')
    await expect.poll(() => page.getByTestId('excel-limit').count()).toBe(0)
    await expect.poll(() => estimate.textContent(), { timeout: 10_000 }).toContain('≈ 3 parts')
    await expectAccessible(page, 'dialog, Excel in workbooks')
    const sent = await interceptCreate()
    await page.getByTestId('start-export').click()
    expect((await sent()).postDataJSON()).toEqual({ dataset_id: TRANSACTIONS.id, format: 'xlsx', max_part_rows: 1_000_000 })
  })

  it('a finished multi-part export lists its parts with sizes and links, and downloads all as a ZIP', async () => {
    // A completed job as the worker records one (its objects are not needed to show it).
    const folder = `exports/${alice.user_id}/00000000-0000-4000-8000-00000000f027`
    const parts = [1, 2, 3].map(i => ({ key: `${folder}/part-000${i}.csv.gz`, filename: `${TRANSACTIONS.name}_all_dates_part-000${i}.csv.gz`, rows: i === 3 ? 1_234 : 10_000, bytes: i === 3 ? 250_000 : 2_097_152, checksum_sha256: String(i).repeat(64) }))
    const jobId = await withDb(async db => (await db.query(`INSERT INTO jobs (user_id, type, status, metadata, progress, run_at, updated_at, started_at, completed_at, attempts)
      VALUES ($1, 'EXPORT', 'completed', $2, '{"phase":"finalizing","percent":100,"rows":21234,"bytes_uploaded":4444304}', now(), now(), now(), now(), 1) RETURNING id`,
    [alice.user_id, JSON.stringify({
      dataset_id: TRANSACTIONS.id, dataset_name: TRANSACTIONS.name, format: 'csv', compression: 'gzip', max_part_rows: 10_000,
      filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] },
      s3_key: `${folder}/manifest.json`, row_count: 21_234, file_size_bytes: 4_444_304, checksum_sha256: 'f'.repeat(64), parts
    })])).rows[0].id as string)
    queued.push(jobId)
    context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    page = await context.newPage()
    await signIn(page, baseUrl, alice.email, alice.password)
    await visit(page, `${baseUrl}/analytics/datasets?export=${TRANSACTIONS.id}&job=${jobId}`)
    await page.locator('[data-testid="export-status"][data-status="completed"]').waitFor({ timeout: 30_000 })
    expect(await page.getByTestId('export-summary').textContent()).toContain('3 parts, 4.24 MB')
    const download = page.getByTestId('download')
    expect(await download.textContent()).toContain('Download all (.zip)')
    expect(await download.getAttribute('href')).toBe(`/api/analytics/exports/${jobId}/download`)
    const items = page.getByTestId('export-part')
    expect(await items.count()).toBe(3)
    expect(await items.nth(0).textContent()).toContain(`${TRANSACTIONS.name}_all_dates_part-0001.csv.gz`)
    expect(await items.nth(0).textContent()).toContain('10,000 rows · 2 MB')
    expect(await items.nth(2).getByRole('link', { name: 'Download part 3' }).getAttribute('href')).toBe(`/api/analytics/exports/${jobId}/download?part=3`)
    expect(await page.getByTestId('curl').textContent()).toContain(`-o "${TRANSACTIONS.name}_all_dates.zip"`)
    // Keyboard: the links are reachable in order after Download all.
    // (After the history link and the two next steps, Schedule this and Change and export again.)
    await download.focus()
    const stops: string[] = []
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('Tab')
      stops.push(await page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent?.trim() ?? ''))
    }
    expect(stops).toEqual(['download again from the history', 'Schedule this', 'Change and export again', 'Download part 1'])
    const overflow = await page.evaluate(() => [...document.querySelectorAll('[role="dialog"] *')]
      .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5)
      .map(el => el.outerHTML.slice(0, 80)))
    expect(overflow).toEqual([])
    await screenshot(page, '41-phone-dialog-parts-completed')
    await expectAccessible(page, 'a finished multi-part export at phone width')
  })
})
