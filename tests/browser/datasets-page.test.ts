import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core'
import type { DatasetCoverageDTO } from '#shared/types/datasets'
import { createDb } from '#server/lib/db/client'
import { createUser } from '#server/lib/users'
import { openWarehouse, queryRows } from '#server/lib/warehouse/duckdb'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { expectAccessible, launchBrowser, screenshot, signIn, visit } from '../helpers/browser'
import { client } from '../helpers/http'

const baseUrl = inject('baseUrl')
const demo = inject('demo')
const env = inject('env')
// Read only: the demo user's cards are compared with the warehouse, nothing is changed for them.
const alice = demo.users[0]!
const [TRANSACTIONS, , MONTHLY] = DATASETS as [typeof DATASETS[0], typeof DATASETS[0], typeof DATASETS[0]]
const { api, postJson } = client(baseUrl)

let browser: Browser
let context: BrowserContext
let page: Page
const db = createDb(env.DATABASE_URL!, { max: 1 })

beforeAll(async () => {
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
  await db.$disconnect()
})
afterEach(async () => {
  await context?.close()
})

async function freshPage(viewport = { width: 1280, height: 900 }) {
  context = await browser.newContext({ viewport })
  page = await context.newPage()
  return page
}

/** A user of this file's own: no warehouse rows, no exports, no tokens. */
async function newUser(name: string) {
  const email = `${name}-${randomUUID()}@example.com`
  const password = `${name}-password`
  const user = await createUser(db, { email, password })
  return { id: user.id, email, password }
}

/** An API call made by the page itself, with its session (as the app's own requests are). */
function inPage<T>(path: string, body: unknown): Promise<T> {
  return page.evaluate(async ({ path, body }) => {
    const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    return res.json()
  }, { path, body })
}

const card = (name: string) => page.getByTestId(`dataset-${name}`)
/** The text as read: spaces between inline elements collapsed, none at the ends. */
const text = async (locator: Locator) => (await locator.textContent() ?? '').replace(/\s+/g, ' ').trim()
const digits = (value: string | null) => Number((value ?? '').replace(/\D/g, ''))
const noSideScroll = () => page.evaluate(() => document.documentElement.scrollWidth)

describe('datasets page', () => {
  it('a demo user\'s cards: what a row is, the rows counted as the warehouse does, dates, freshness, and the columns as a table', async () => {
    await freshPage()
    await signIn(page, baseUrl, alice.email, alice.password)
    const transactions = card(TRANSACTIONS.name)
    await transactions.getByTestId('dataset-rows').waitFor()

    const warehouse = await openWarehouse(env.WAREHOUSE_PATH!)
    const connection = await warehouse.connect()
    const [direct] = await queryRows<{ rows: string, months: string }>(connection, `SELECT count(*)::VARCHAR AS rows, count(DISTINCT date_trunc('month', transaction_date))::VARCHAR AS months
      FROM transactions WHERE user_id = '${alice.user_id}'`)
    connection.closeSync()
    warehouse.closeSync()
    const { coverage } = await (await api('/api/analytics/datasets/coverage', { token: alice.token })).json() as { coverage: DatasetCoverageDTO[] }
    expect(coverage[0]!.row_count).toBe(Number(direct!.rows))

    expect(await text(transactions.getByTestId('dataset-row-description'))).toBe('One row per transaction')
    expect(digits(await transactions.getByTestId('dataset-rows').textContent())).toBe(Number(direct!.rows))
    expect(digits(await card(MONTHLY.name).getByTestId('dataset-rows').textContent())).toBe(Number(direct!.months))
    expect(await text(transactions.getByTestId('dataset-coverage'))).toMatch(/^Dates covered: [A-Z][a-z]{2,3} \d{4} – [A-Z][a-z]{2,3} \d{4}$/)
    expect(await text(transactions.getByTestId('dataset-freshness'))).toMatch(/^Updated (just now|\d+ \w+ ago|yesterday|last \w+)$/)

    await transactions.getByRole('button', { name: `Show ${TRANSACTIONS.columns.length} columns` }).click()
    const table = transactions.getByRole('region', { name: 'Transactions columns' })
    expect((await table.getByRole('columnheader').allTextContents()).map(t => t.trim())).toEqual(['Name', 'Type', 'Description'])
    const rows = table.getByTestId('dataset-column')
    expect(await rows.count()).toBe(TRANSACTIONS.columns.length)
    expect((await rows.first().getByRole('cell').allTextContents()).map(t => t.trim())).toEqual(['transaction_id', 'UUID', 'Unique transaction id'])
    await expectAccessible(page, 'datasets page with a column table open')
    await screenshot(page, 'datasets-01-cards')

    // By keyboard: the card's Export opens the dialog, Escape closes it and the URL forgets it.
    await transactions.getByRole('button', { name: `Export ${TRANSACTIONS.title}` }).focus()
    await page.keyboard.press('Enter')
    await page.getByRole('dialog').waitFor()
    expect(new URL(page.url()).searchParams.get('export')).toBe(TRANSACTIONS.id)
    await page.keyboard.press('Escape')
    await page.getByRole('dialog').waitFor({ state: 'detached' })
    await page.waitForURL(url => !url.search)
  })

  it('a new user: "No rows yet", Get started ticking off as they create a token, export and schedule, the last export with Export again', async () => {
    const carol = await newUser('carol')
    await freshPage()
    await signIn(page, baseUrl, carol.email, carol.password)
    const started = page.getByTestId('get-started')
    await started.waitFor()
    expect(await text(page.getByTestId('get-started-progress'))).toBe('0 of 4 done')
    const transactions = card(TRANSACTIONS.name)
    await transactions.getByTestId('dataset-rows').waitFor()
    // Said once, not as zeros, empty dates or a freshness of nothing.
    expect(await text(transactions.getByTestId('dataset-rows'))).toBe('No rows yet')
    for (const testId of ['dataset-coverage', 'dataset-freshness']) expect(await transactions.getByTestId(testId).count()).toBe(0)
    expect(await transactions.getByTestId('dataset-last-export').count()).toBe(0)
    expect(await transactions.getByRole('link', { name: `Schedule it: ${TRANSACTIONS.title}` }).getAttribute('href')).toBe(`/analytics/schedules?new=${TRANSACTIONS.id}`)
    // Each step's way to do it.
    const hrefs = await started.getByRole('link').evaluateAll(links => links.map(l => [l.textContent!.trim(), l.getAttribute('href')]))
    expect(hrefs).toEqual([
      ['Export a dataset', `/analytics/datasets?export=${TRANSACTIONS.id}`],
      ['Set up notifications', '/settings/notifications'],
      ['New schedule', '/analytics/schedules?new=1'],
      ['Create a token', '/settings/tokens']
    ])
    await expectAccessible(page, 'datasets page of a new user')
    await screenshot(page, 'datasets-02-new-user')

    // The first step from its own button, by keyboard: the export made in the dialog ticks it off
    // as soon as the dialog closes, and the card shows it, without a reload.
    await started.getByRole('link', { name: 'Export a dataset' }).focus()
    await page.keyboard.press('Enter')
    await page.getByRole('dialog').waitFor()
    await page.getByTestId('start-export').click()
    await page.waitForURL(url => url.searchParams.has('job'))
    const jobId = new URL(page.url()).searchParams.get('job')!
    await page.locator('[data-testid="export-status"][data-status="completed"]').waitFor({ timeout: 30_000 })
    await page.keyboard.press('Escape')
    await page.getByRole('dialog').waitFor({ state: 'detached' })
    await page.getByTestId('get-started-progress').filter({ hasText: '1 of 4 done' }).waitFor()
    await transactions.getByTestId('dataset-last-export').waitFor()

    const { token } = await inPage<{ token: string }>('/api/tokens', { name: 'datasets page' })
    expect((await postJson('/api/analytics/schedules', { dataset_id: TRANSACTIONS.id, format: 'csv', range: 'all_dates', cadence: { frequency: 'daily', time: '08:00', time_zone: 'Europe/London' } }, { token })).status).toBe(201)
    await visit(page, `${baseUrl}/analytics/datasets`)
    await page.getByTestId('get-started-progress').filter({ hasText: '3 of 4 done' }).waitFor()
    for (const step of ['export', 'schedule', 'token']) expect(await page.getByTestId(`get-started-${step}`).getAttribute('data-done')).toBe('true')
    expect(await page.getByTestId('get-started-notifications').getAttribute('data-done')).toBe('false')
    expect(await page.getByTestId('get-started-notifications').getByRole('link').textContent()).toContain('Set up notifications')

    const last = transactions.getByTestId('dataset-last-export')
    await last.waitFor()
    expect(await text(last)).toMatch(/^Your last export: CSV, just now — Export again$/)
    expect(await text(transactions.getByTestId('dataset-schedules'))).toBe('Used by 1 schedule')
    expect(await transactions.getByTestId('dataset-schedules').getByRole('link').getAttribute('href')).toBe('/analytics/schedules')
    await expectAccessible(page, 'datasets page after a first export')
    await screenshot(page, 'datasets-03-steps-ticked')

    // Export again, by keyboard: the dialog opens prefilled from that export (the URL DIALOG reads).
    await last.getByRole('link', { name: /^Export again/ }).focus()
    await page.keyboard.press('Enter')
    await page.getByRole('dialog').waitFor()
    const url = new URL(page.url())
    expect(Object.fromEntries(url.searchParams)).toEqual({ export: TRANSACTIONS.id, from: jobId })
    await screenshot(page, 'datasets-04-export-again')
    await page.keyboard.press('Escape')
    await page.getByRole('dialog').waitFor({ state: 'detached' })

    // The fourth step (Telegram linked) hides the card.
    await db.user.update({ where: { id: carol.id }, data: { telegramChatId: BigInt(Date.now()) } })
    await visit(page, `${baseUrl}/analytics/datasets`)
    await transactions.getByTestId('dataset-last-export').waitFor()
    expect(await started.count()).toBe(0)
  })

  it('Get started is dismissed by keyboard, stays dismissed after a reload, and only for that user', async () => {
    const [dave, erin] = [await newUser('dave'), await newUser('erin')]
    await freshPage()
    await signIn(page, baseUrl, dave.email, dave.password)
    const dismiss = page.getByRole('button', { name: 'Dismiss Get started' })
    await dismiss.waitFor()
    await page.getByRole('link', { name: 'Export history' }).first().focus()
    for (let i = 0; i < 5 && !(await dismiss.evaluate(el => el === document.activeElement)); i++) await page.keyboard.press('Tab')
    expect(await dismiss.evaluate(el => el === document.activeElement)).toBe(true)
    await page.keyboard.press('Enter')
    await page.getByTestId('get-started').waitFor({ state: 'detached' })
    // Focus goes on to the first card, not to the page's top.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe(`Export ${TRANSACTIONS.title}`)
    await visit(page, `${baseUrl}/analytics/datasets`)
    await card(TRANSACTIONS.name).getByTestId('dataset-rows').waitFor()
    expect(await page.getByTestId('get-started').count()).toBe(0)
    await context.close()

    await freshPage()
    await signIn(page, baseUrl, erin.email, erin.password)
    await page.getByTestId('get-started').waitFor()
  })

  it('at phone width the cards stack, the column table scrolls inside its card and nothing overflows the page', async () => {
    const frank = await newUser('frank')
    await freshPage({ width: 390, height: 844 })
    await signIn(page, baseUrl, frank.email, frank.password)
    await page.getByTestId('get-started').waitFor()
    await card(TRANSACTIONS.name).getByTestId('dataset-rows').waitFor()
    expect(await noSideScroll()).toBeLessThanOrEqual(390)
    await expectAccessible(page, 'datasets page of a new user at phone width')
    await screenshot(page, 'datasets-05-phone-get-started')
    await context.close()

    await freshPage({ width: 390, height: 844 })
    await signIn(page, baseUrl, alice.email, alice.password)
    const transactions = card(TRANSACTIONS.name)
    await transactions.getByTestId('dataset-rows').waitFor()
    await transactions.getByRole('button', { name: /^Show \d+ columns$/ }).click()
    await transactions.getByRole('region', { name: 'Transactions columns' }).waitFor()
    const boxes = await Promise.all(DATASETS.map(d => card(d.name).boundingBox()))
    // Stacked: each card under the one before, as wide as the screen allows.
    for (let i = 1; i < boxes.length; i++) expect(boxes[i]!.y).toBeGreaterThanOrEqual(boxes[i - 1]!.y + boxes[i - 1]!.height)
    for (const box of boxes) expect(box!.x + box!.width).toBeLessThanOrEqual(390)
    expect(await noSideScroll()).toBeLessThanOrEqual(390)
    await expectAccessible(page, 'datasets page at phone width, a column table open')
    await screenshot(page, 'datasets-06-phone-columns')
  })
})
