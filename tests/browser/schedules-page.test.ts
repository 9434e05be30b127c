import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { createDb, type Db } from '#server/lib/db/client'
import { createUser } from '#server/lib/users'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { describeUpcomingRun, upcomingRuns } from '#shared/schedules/upcoming'
import type { Cadence, ScheduleDTO, ScheduleRange } from '#shared/types/schedules'
import { expectAccessible, launchBrowser, screenshot, signIn, visit } from '../helpers/browser'

const baseUrl = inject('baseUrl')
const env = inject('env')
const [TRANSACTIONS] = DATASETS as [typeof DATASETS[number]]

let browser: Browser
let context: BrowserContext
let page: Page
let db: Db

beforeAll(async () => {
  browser = await launchBrowser()
  db = createDb(env.DATABASE_URL!, { max: 1 })
})
afterAll(async () => {
  await browser?.close()
  await db?.$disconnect()
})
afterEach(async () => {
  await context?.close()
})

/** A user of this test's own: no schedules (the empty state) and no warehouse rows. */
async function freshUser(viewport = { width: 1280, height: 900 }) {
  const user = { email: `schedules-${randomUUID()}@example.test`, password: 'correct horse battery staple' }
  await createUser(db, user)
  context = await browser.newContext({ viewport, timezoneId: 'Europe/London', locale: 'en-GB' })
  page = await context.newPage()
  await signIn(page, baseUrl, user.email, user.password, '/analytics/schedules')
  return user
}

async function schedules(): Promise<ScheduleDTO[]> {
  return (await (await page.request.get(`${baseUrl}/api/analytics/schedules`)).json()).schedules
}

async function createViaApi(body: Record<string, unknown>): Promise<ScheduleDTO> {
  const res = await page.request.post(`${baseUrl}/api/analytics/schedules`, { data: body })
  expect(res.status()).toBe(201)
  return res.json()
}

async function choose(testId: string, option: string) {
  await page.getByTestId(testId).click()
  await page.getByRole('option', { name: option, exact: true }).click()
}

/** What the form must say: the shared functions the scheduler uses, from now. */
function expectedRuns(cadence: Cadence, range: ScheduleRange) {
  return upcomingRuns(cadence, range, new Date(), 3).map(run => describeUpcomingRun(run, range, cadence.time_zone))
}

/** The toaster's list fails axe while a toast shows (Reka's focus guards, a role="alert" item): its toasts go first. */
const toastsGone = () => expect.poll(() => page.locator('[role="region"] ol > *').count(), { timeout: 15_000 }).toBe(0)

/** Tabs forward (at most `max` times) until the element with this test id has the focus. */
async function tabTo(testId: string, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab')
    if (await page.evaluate(id => document.activeElement?.getAttribute('data-testid') === id, testId)) return
  }
  throw new Error(`Tab never reached ${testId}`)
}

const nextRuns = () => page.getByTestId('schedule-next-runs').getByRole('listitem').allTextContents()
const noOverflow = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth
  && [...document.querySelectorAll('[role="dialog"]')].every(d => d.scrollWidth <= d.clientWidth))

describe('the schedules page', () => {
  it('empty state → New schedule by keyboard alone: dataset, cadence, the next three runs, created and scrolled to', async () => {
    await freshUser()
    await page.getByTestId('no-schedules').waitFor()
    await screenshot(page, 'schedules-page-01-empty')
    await expectAccessible(page, 'schedules, empty')

    await page.getByTestId('no-schedules').getByRole('button', { name: 'New schedule' }).focus()
    await page.keyboard.press('Enter')
    await page.waitForURL(/[?&]new=1/)
    const picker = page.getByRole('combobox', { name: /^Dataset:/ })
    await picker.waitFor()
    await screenshot(page, 'schedules-page-02-new-picker')
    await expectAccessible(page, 'new schedule, dataset picker')
    await picker.focus()
    await page.keyboard.press('Enter')
    await page.getByRole('option', { name: TRANSACTIONS.title, exact: true }).waitFor()
    await page.keyboard.type(TRANSACTIONS.title)
    await page.keyboard.press('Enter')
    await page.waitForURL(new RegExp(`[?&]new=${TRANSACTIONS.id}`))
    await page.getByTestId('schedule-request').waitFor()

    // Weekly on Monday 08:00 in the browser's zone (London), previous week: the defaults.
    const cadence: Cadence = { frequency: 'weekly', time: '08:00', weekday: 1, time_zone: 'Europe/London' }
    expect(await page.getByTestId('schedule-cadence-words').textContent()).toBe('Every Monday at 08:00 (Europe/London)')
    await expect.poll(nextRuns).toEqual(expectedRuns(cadence, 'previous_week'))
    // Daily at 06:30: the preview follows the form.
    await choose('schedule-frequency', 'Daily')
    await page.getByTestId('schedule-time').fill('06:30')
    await expect.poll(nextRuns).toEqual(expectedRuns({ frequency: 'daily', time: '06:30', time_zone: 'Europe/London' }, 'previous_week'))
    await choose('schedule-frequency', 'Weekly')
    await page.getByTestId('schedule-time').fill('08:00')
    await expect.poll(nextRuns).toEqual(expectedRuns(cadence, 'previous_week'))
    await screenshot(page, 'schedules-page-03-new-form')
    await expectAccessible(page, 'new schedule form')

    // Enter in the name saves, as in any form.
    const name = page.getByTestId('schedule-name')
    await name.focus()
    await page.keyboard.press('ControlOrMeta+a')
    await page.keyboard.type('Monday transactions')
    await page.keyboard.press('Enter')
    await page.getByRole('dialog').waitFor({ state: 'detached' })
    expect(new URL(page.url()).searchParams.has('new')).toBe(false)
    const [saved] = await schedules()
    expect(saved).toMatchObject({ name: 'Monday transactions', cadence, range: 'previous_week', request: { dataset_id: TRANSACTIONS.id, format: 'csv' } })
    const card = page.locator(`#schedule-${saved!.id}`)
    await expect.poll(() => card.getAttribute('data-highlighted')).toBe('true')
    expect(await page.getByTestId('new-schedule').count()).toBe(1)
    await toastsGone()
    await screenshot(page, 'schedules-page-04-created')
    await expectAccessible(page, 'schedules with one')
  })

  it('?new=<dataset> opens the form with it picked; a cron expression reads in words', async () => {
    await freshUser()
    await visit(page, `${baseUrl}/analytics/schedules?new=${TRANSACTIONS.id}`)
    await page.getByTestId('schedule-request').waitFor()
    expect(await page.getByRole('combobox', { name: /^Dataset:/ }).textContent()).toContain(TRANSACTIONS.title)
    await choose('schedule-frequency', 'Custom (cron)')
    await page.getByTestId('schedule-cron').fill('30 6 * * 1-5')
    await choose('schedule-range', 'Previous day')
    await expect.poll(() => page.getByTestId('schedule-cadence-words').textContent()).toBe('At 06:30 on Monday to Friday (Europe/London)')
    await expect.poll(nextRuns).toEqual(expectedRuns({ cron: '30 6 * * 1-5', time_zone: 'Europe/London' }, 'previous_day'))
    // Half an expression: no runs, and a word on why.
    await page.getByTestId('schedule-cron').fill('30 6 *')
    await expect.poll(() => page.getByTestId('schedule-preview').textContent()).toContain('Enter a cron expression with five fields')
    await page.getByTestId('schedule-cron').fill('30 6 * * 1-5')
    await page.getByTestId('schedule-preview').scrollIntoViewIfNeeded()
    await screenshot(page, 'schedules-page-05-cron')
    await expectAccessible(page, 'new schedule with cron')
    await page.getByTestId('create-schedule').click()
    await page.getByRole('dialog').waitFor({ state: 'detached' })
    expect((await schedules())[0]!.cadence).toEqual({ cron: '30 6 * * 1-5', time_zone: 'Europe/London' })
  })

  it('edits format, compression, conditions and columns; run dots after Run now link to the history; #schedule-<id> highlights', async () => {
    await freshUser()
    const columns = TRANSACTIONS.columns.map(c => c.name)
    const schedule = await createViaApi({ dataset_id: TRANSACTIONS.id, format: 'csv', columns: columns.slice(0, 2), range: 'previous_week', name: 'Weekly', cadence: { frequency: 'weekly', weekday: 1, time: '08:00', time_zone: 'Europe/London' } })
    await visit(page, `${baseUrl}/analytics/schedules`)
    const card = page.locator(`#schedule-${schedule.id}`)
    await card.getByTestId('edit-schedule').click()
    await page.getByTestId('edit-form').waitFor()
    expect(await page.getByTestId('file-options-summary').textContent()).toBe('CSV · uncompressed · no limit')
    await page.getByTestId('file-options-toggle').click()
    await page.getByTestId('format').getByText('JSON', { exact: true }).click()
    await page.getByTestId('compression').getByText('gzip', { exact: true }).click()
    await page.getByRole('button', { name: 'Add condition' }).click()
    await page.getByRole('combobox', { name: 'Condition 1: column' }).click()
    await page.getByRole('option', { name: 'amount', exact: true }).click()
    await page.getByRole('combobox', { name: 'Condition 1: operator' }).click()
    await page.getByRole('option', { name: '>', exact: true }).click()
    await page.getByLabel('Condition 1: value').fill('5')
    // The complaint from while the value was empty goes once the field is left.
    await page.getByLabel('Condition 1: value').press('Tab')
    await expect.poll(() => page.getByText('Enter a value, or remove the condition').count()).toBe(0)
    // The saved columns are shown as saved.
    expect(await page.getByTestId('columns-count').textContent()).toMatch(/^2 of /)
    // Dates are the range's: the request section has accounts, tags and conditions, and no date inputs.
    expect(await page.getByTestId('schedule-request').locator('input[type=date]').count()).toBe(0)
    expect(await page.getByTestId('schedule-request').getByTestId('accounts').isVisible()).toBe(true)
    expect(await page.getByTestId('schedule-request').getByTestId('tags').isVisible()).toBe(true)
    expect(await page.getByTestId('schedule-request-summary').textContent()).toContain(`JSON · gzip · no limit · 2 of ${columns.length} columns · 1 condition`)
    await screenshot(page, 'schedules-page-06-edit')
    await expectAccessible(page, 'edit schedule with format, condition, columns')
    await page.getByTestId('save-edit').click()
    await page.getByRole('dialog').waitFor({ state: 'detached' })
    const read = await (await page.request.get(`${baseUrl}/api/analytics/schedules/${schedule.id}`)).json() as ScheduleDTO
    expect(read.request).toEqual({ dataset_id: TRANSACTIONS.id, format: 'json', compression: 'gzip', columns: columns.slice(0, 2), row_filters: [{ column: 'amount', op: 'gt', value: '5' }], destination_ids: [] })

    // Editing again shows what was saved; back to every column.
    await card.getByTestId('edit-schedule').click()
    expect(await page.getByTestId('schedule-request-summary').textContent()).toContain(`JSON · gzip · no limit · 2 of ${columns.length} columns · 1 condition`)
    expect(await page.getByLabel('Condition 1: value').inputValue()).toBe('5')
    await page.getByTestId('columns-all').click()
    await page.getByTestId('save-edit').click()
    await page.getByRole('dialog').waitFor({ state: 'detached' })
    expect((await schedules())[0]!.request.columns).toBeNull()

    await card.getByTestId('run-now').click()
    const dot = card.getByRole('link', { name: /^Completed \d{1,2} [A-Z][a-z]{2} \d{2}:\d{2}$/ })
    await dot.waitFor({ timeout: 30_000 })
    const [run] = (await schedules())[0]!.recent_runs
    expect(await dot.getAttribute('href')).toBe(`/analytics/exports?schedule_id=${schedule.id}&job=${run!.id}`)
    expect(await card.getByTestId('schedule-history').getAttribute('href')).toBe(`/analytics/exports?schedule_id=${schedule.id}`)
    await toastsGone()
    await screenshot(page, 'schedules-page-07-run-dots')
    await expectAccessible(page, 'schedule with run dots')
    await dot.focus()
    await page.keyboard.press('Enter')
    await page.waitForURL(url => url.pathname === '/analytics/exports' && url.searchParams.get('schedule_id') === schedule.id)

    // The anchor: another schedule below, linked to by its id.
    const second = await createViaApi({ dataset_id: TRANSACTIONS.id, format: 'csv', range: 'previous_day', name: 'Daily', cadence: { frequency: 'daily', time: '07:00', time_zone: 'Europe/London' } })
    await visit(page, `${baseUrl}/analytics/schedules#schedule-${second.id}`)
    const target = page.locator(`#schedule-${second.id}`)
    await expect.poll(() => target.getAttribute('data-highlighted')).toBe('true')
    expect(await target.evaluate(el => el.getBoundingClientRect().top >= 0 && el.getBoundingClientRect().bottom <= window.innerHeight)).toBe(true)
    expect(await card.getAttribute('data-highlighted')).toBeNull()
  })

  it('edits a schedule by keyboard alone: Edit, File options, the format, Save', async () => {
    await freshUser()
    const schedule = await createViaApi({ dataset_id: TRANSACTIONS.id, format: 'csv', range: 'previous_week', name: 'Weekly', cadence: { frequency: 'weekly', weekday: 1, time: '08:00', time_zone: 'Europe/London' } })
    await visit(page, `${baseUrl}/analytics/schedules`)
    await page.locator(`#schedule-${schedule.id}`).waitFor()
    await tabTo('edit-schedule')
    await page.keyboard.press('Enter')
    await page.getByTestId('edit-form').waitFor()
    await tabTo('file-options-toggle')
    await page.keyboard.press('Enter')
    // Into the format's radio group (the chosen one takes the focus), then the next format: Space
    // checks it (Reka's own check as the arrow moves the focus can be missed on a slow machine).
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => [document.activeElement?.getAttribute('role'), document.activeElement?.getAttribute('aria-checked')])).toEqual(['radio', 'true'])
    await page.keyboard.press('ArrowRight')
    await page.keyboard.press('Space')
    await expect.poll(() => page.getByTestId('file-options-summary').textContent()).toBe('Parquet · zstd · no limit')
    await screenshot(page, 'schedules-page-10-keyboard-edit')
    await tabTo('save-edit')
    await page.keyboard.press('Enter')
    await page.getByRole('dialog').waitFor({ state: 'detached' })
    expect((await schedules())[0]!.request.format).toBe('parquet')
  })

  it('works at phone width: the page, the new schedule form and the cards without sideways scrolling', async () => {
    await freshUser({ width: 390, height: 844 })
    await page.getByTestId('no-schedules').waitFor()
    expect(await noOverflow()).toBe(true)
    await page.getByTestId('new-schedule').click()
    await choose('schedule-dataset', TRANSACTIONS.title)
    await page.getByTestId('schedule-request').waitFor()
    await page.getByRole('button', { name: 'Add condition' }).click()
    await expect.poll(nextRuns).toHaveLength(3)
    expect(await noOverflow()).toBe(true)
    await screenshot(page, 'schedules-page-08-phone-form')
    await expectAccessible(page, 'new schedule form on a phone')
    await page.getByRole('button', { name: 'Remove condition 1' }).click()
    await page.getByTestId('create-schedule').click()
    await page.getByRole('dialog').waitFor({ state: 'detached' })
    await page.getByTestId('schedule').first().getByTestId('run-now').click()
    await page.getByTestId('run-dot').first().waitFor({ timeout: 30_000 })
    expect(await noOverflow()).toBe(true)
    await toastsGone()
    await screenshot(page, 'schedules-page-09-phone-page')
    await expectAccessible(page, 'schedules on a phone')
  })
})
