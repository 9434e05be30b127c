/**
 * `npm run docs:screenshot`: the README's picture of the export dialog (docs/images/export-dialog.png),
 * taken from the built server (`npm run build` first) on a throwaway database, s3rver and demo
 * warehouse, with Debian's Chromium (`CHROMIUM_PATH` for another).
 */
import { join } from 'node:path'
import { launchBrowser, settled, signIn } from '../tests/helpers/browser'
import { createTestEnvironment } from '../tests/helpers/environment'
import { startServer } from '../tests/helpers/server'

const OUT = join(import.meta.dirname, '../docs/images/export-dialog.png')

const environment = await createTestEnvironment({ users: 1, transactions: 20_000, seed: 1 })
const server = await startServer(environment.env)
const browser = await launchBrowser()
try {
  const user = environment.demo.users[0]!
  const page = await browser.newPage({ viewport: { width: 1200, height: 860 } })
  await signIn(page, server.url, user.email, user.password)
  await page.getByRole('button', { name: 'Export Transactions' }).click()
  // The preset radios are drawn as buttons (visually hidden inputs): a click lands on the label.
  await page.getByRole('radio', { name: 'Custom', exact: true }).locator('xpath=ancestor::label[1]').click()
  await page.getByLabel('Start date').fill('2025-01-01')
  // The preview shown so far is of all dates: the picture waits for the one of the chosen quarter.
  const quarter = page.waitForResponse(res => res.url().endsWith('/preview') && res.request().postData()?.includes('2025-03-31') === true)
  await page.getByLabel('End date').fill('2025-03-31')
  await page.getByLabel('End date').blur()
  await quarter
  await page.locator('[data-testid="preview-table"] tbody tr').first().waitFor()
  await settled(page)
  // The chart's bars move by d3 transitions, which the page's animation list does not show.
  await page.waitForTimeout(1500)
  await page.screenshot({ path: OUT, animations: 'disabled' })
  console.log(`Wrote ${OUT}`)
} finally {
  await browser.close()
  await server.stop()
  await environment.teardown()
}
