import { join } from 'node:path'
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '#server/lib/local/s3rver'
import { DEFAULT_PATH_TEMPLATE, type DestinationDTO } from '#shared/types/destinations'
import { expectAccessible, launchBrowser, screenshot, signIn, visit } from '../helpers/browser'
import { freePort } from '../helpers/server'
import { startSshd, type SshdHandle } from '../helpers/sshd'
import { useServerSuite } from '../helpers/suite'

const BUCKET = 'customer-exports'

/**
 * Settings → Destinations, the export dialog's picker and a delivered export, on a server of its own
 * that may reach loopback stores: a second s3rver as the user's bucket and Debian's sshd.
 */
describe('Destinations', () => {
  let bucket: S3rverHandle
  let sshd: SshdHandle
  const suite = useServerSuite({
    name: 'browser-destinations',
    users: 2,
    transactions: 300,
    prepare: async ({ environment, onTeardown }) => {
      bucket = await startS3rver({ directory: join(environment.dir, 'customer-s3'), port: await freePort(), buckets: [BUCKET] })
      onTeardown(() => bucket.stop())
      sshd = await startSshd()
      onTeardown(() => sshd.stop())
    },
    env: { WEBHOOK_ALLOW_HOSTS: '127.0.0.1', DESTINATION_RETRY_BASE_MS: '500' }
  })
  let browser: Browser

  beforeAll(async () => {
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
  })

  async function listed(token: string): Promise<{ text: string, destinations: DestinationDTO[] }> {
    const res = await fetch(`${suite.url}/api/destinations`, { headers: { authorization: `Bearer ${token}` } })
    const text = await res.text()
    return { text, destinations: (JSON.parse(text) as { destinations: DestinationDTO[] }).destinations }
  }

  /** The test's result block where it is (the form, or a card): its verdict and each step's words. */
  async function testResult(page: Page, scope = page.getByTestId('destination-form')) {
    const block = scope.getByTestId('destination-test-result')
    await block.waitFor({ timeout: 30_000 })
    return { ok: await block.getAttribute('data-ok'), text: (await block.textContent())!.replace(/\s+/g, ' ') }
  }

  async function fillS3Compatible(page: Page, { name, accessKeyId, bucketName = BUCKET }: { name: string, accessKeyId: string, bucketName?: string }) {
    await page.getByRole('radio', { name: /^S3-compatible/ }).check()
    await page.getByTestId('destination-name').fill(name)
    await page.getByTestId('destination-bucket').fill(bucketName)
    await page.getByTestId('destination-endpoint').fill(bucket.endpoint)
    await page.getByTestId('destination-path-style').click()
    await page.getByTestId('destination-path').fill('outport/{schedule}/{yyyy}-{mm}-{dd}/{filename}')
    await page.getByTestId('destination-access-key-id').fill(accessKeyId)
    await page.getByTestId('destination-secret-access-key').fill('any-secret-s3rver-accepts')
  }

  it('empty, each type\'s form, a failed and a passing test, saved with its result, edited with blank secrets', async () => {
    const user = suite.demo.users[0]!
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    try {
      await signIn(page, suite.url, user.email, user.password)
      await page.getByTestId('sidebar').getByRole('link', { name: 'Destinations' }).click()
      await page.waitForURL(url => url.pathname === '/settings/destinations')
      await page.getByTestId('destinations-empty').waitFor()
      await screenshot(page, '60-destinations-empty')
      await expectAccessible(page, 'destinations: empty')

      await page.getByTestId('destination-add').click()
      await page.getByTestId('destination-form').waitFor()
      // Amazon S3 first, with a role: the user's ExternalId, the trust policy and a permissions policy naming the bucket.
      await page.getByTestId('destination-bucket').fill('acme-data-lake')
      await page.getByRole('radio', { name: /^IAM role/ }).check()
      const externalId = (await page.getByTestId('destination-external-id').textContent())!.trim()
      expect(externalId.length).toBeGreaterThan(8)
      expect(await page.getByTestId('destination-trust-policy').textContent()).toContain(externalId)
      const permissions = JSON.parse((await page.getByTestId('destination-permissions-policy').textContent())!) as { Statement: { Resource: string }[] }
      expect(permissions.Statement.map(s => s.Resource)).toEqual(['arn:aws:s3:::acme-data-lake', 'arn:aws:s3:::acme-data-lake/*'])
      await page.getByTestId('destination-placeholders-toggle').click()
      expect(await page.getByTestId('destination-placeholders').textContent()).toContain('{schedule}')
      expect(await page.getByTestId('destination-path').getAttribute('placeholder')).toBe(DEFAULT_PATH_TEMPLATE)
      await screenshot(page, '61-destinations-form-s3-role')
      await expectAccessible(page, 'destinations: Amazon S3 form with a role')

      await page.getByRole('radio', { name: /^Azure Blob Storage/ }).check()
      await page.getByTestId('destination-account-url').waitFor()
      await screenshot(page, '62-destinations-form-azure')
      await expectAccessible(page, 'destinations: Azure form')
      await page.getByRole('radio', { name: /^SFTP/ }).check()
      await page.getByTestId('destination-host').waitFor()
      await screenshot(page, '63-destinations-form-sftp')
      await expectAccessible(page, 'destinations: SFTP form')

      // S3-compatible (the second s3rver), first with a key it refuses: the failing step says so.
      await fillS3Compatible(page, { name: 'Customer lake', accessKeyId: 'WRONGKEY' })
      await screenshot(page, '64-destinations-form-s3-compatible')
      await expectAccessible(page, 'destinations: S3-compatible form')
      await page.getByTestId('destination-test-unsaved').click()
      const refused = await testResult(page)
      expect(refused.ok).toBe('false')
      expect(refused.text).toMatch(/Test failed.*Credentials: failed — .+ \(\d+ ms\)/)
      await screenshot(page, '65-destinations-test-failed')
      await expectAccessible(page, 'destinations: a failed test')
      expect((await listed(user.token)).destinations).toHaveLength(0)

      await page.getByTestId('destination-access-key-id').fill(S3RVER_CREDENTIALS.accessKeyId)
      await page.getByTestId('destination-test-unsaved').click()
      await expect.poll(async () => (await testResult(page)).ok, { timeout: 30_000 }).toBe('true')
      const passed = await testResult(page)
      expect(passed.text).toMatch(/Test passed.*Credentials: ok.*Bucket reachable: ok.*Write a test file: ok.*Delete the test file: ok/)
      await screenshot(page, '66-destinations-test-passed')
      await expectAccessible(page, 'destinations: a passing test')

      await page.getByTestId('destination-save').click()
      const card = page.locator('[data-testid="destination"]', { hasText: 'Customer lake' })
      await card.waitFor()
      // Saved, then tested as saved: the card carries the result.
      await expect.poll(async () => (await testResult(page, card)).ok, { timeout: 30_000 }).toBe('true')
      expect(await card.getByTestId('destination-summary').textContent()).toContain(`s3://${BUCKET} at 127.0.0.1:${bucket.port}`)
      expect(await card.getByTestId('destination-credentials').textContent()).toContain('…')
      await screenshot(page, '67-destinations-list')
      await expectAccessible(page, 'destinations: the list with a tested destination')

      const { text, destinations } = await listed(user.token)
      expect(destinations).toHaveLength(1)
      expect(destinations[0]!.last_test?.ok).toBe(true)
      expect(text).not.toContain('any-secret-s3rver-accepts')

      // Edit: the saved credentials are named, the secret fields stay blank and blank keeps them.
      await card.getByTestId('destination-edit').click()
      await page.getByTestId('destination-saved-credentials').waitFor()
      expect(await page.getByTestId('destination-secret-access-key').inputValue()).toBe('')
      await expectAccessible(page, 'destinations: editing')
      await screenshot(page, '68-destinations-edit')
      await page.getByTestId('destination-name').fill('Customer lake (prod)')
      await page.getByTestId('destination-save').click()
      const renamed = page.locator('[data-testid="destination"]', { hasText: 'Customer lake (prod)' })
      await expect.poll(async () => (await testResult(page, renamed)).ok, { timeout: 30_000 }).toBe('true')
      expect((await listed(user.token)).destinations[0]!.name).toBe('Customer lake (prod)')
    } finally {
      await context.close()
    }
  })

  it('SFTP: the first test reports the server\'s host key, trusted it is pinned and the test passes', async () => {
    const user = suite.demo.users[0]!
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    try {
      await signIn(page, suite.url, user.email, user.password, '/settings/destinations')
      await page.getByTestId('destination-add').click()
      await page.getByRole('radio', { name: /^SFTP/ }).check()
      await page.getByTestId('destination-name').fill('Vendor SFTP')
      await page.getByTestId('destination-host').fill('127.0.0.1')
      await page.getByTestId('destination-port').fill(String(sshd.port))
      await page.getByTestId('destination-username').fill(sshd.username)
      await page.getByTestId('destination-path').fill(`${sshd.root}/{dataset}/{filename}`)
      await page.getByTestId('destination-private-key').fill(sshd.privateKey)
      await page.getByTestId('destination-test-unsaved').click()

      const first = await testResult(page)
      expect(first.ok).toBe('false')
      expect(first.text).toMatch(/Connect: ok.*Host key: failed — Not pinned yet/)
      expect(await page.getByTestId('destination-presented-key').textContent()).toBe(sshd.hostKeySha256)
      await screenshot(page, '69-destinations-sftp-host-key')
      await expectAccessible(page, 'destinations: SFTP host key to confirm')

      await page.getByTestId('destination-trust-key').click()
      await expect.poll(async () => (await testResult(page)).ok, { timeout: 30_000 }).toBe('true')
      expect(await page.getByTestId('destination-host-key').inputValue()).toBe(sshd.hostKeySha256)
      expect((await testResult(page)).text).toMatch(/Host key: ok.*Sign in: ok.*Write a test file: ok/)
      await page.getByTestId('destination-save').click()
      const card = page.locator('[data-testid="destination"]', { hasText: 'Vendor SFTP' })
      await expect.poll(async () => (await testResult(page, card)).ok, { timeout: 30_000 }).toBe('true')
      const saved = (await listed(user.token)).destinations.find(d => d.name === 'Vendor SFTP')!
      expect(saved.type === 'sftp' && saved.config.host_key_sha256).toBe(sshd.hostKeySha256)
    } finally {
      await context.close()
    }
  })

  it('at phone width, by keyboard only: add, test (a missing bucket fails), delete', async () => {
    const user = suite.demo.users[1]!
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } })
    const page = await context.newPage()
    const type = async (testId: string, text: string) => {
      await page.getByTestId(testId).focus()
      await page.keyboard.press('ControlOrMeta+a')
      await page.keyboard.type(text)
    }
    try {
      await signIn(page, suite.url, user.email, user.password, '/settings/destinations')
      await page.getByTestId('destinations-empty').waitFor()
      await screenshot(page, '70-destinations-phone-empty')
      await expectAccessible(page, 'destinations: empty (phone)')

      await page.getByTestId('destination-add').focus()
      await page.keyboard.press('Enter')
      const s3Compatible = page.getByRole('radio', { name: /^S3-compatible/ })
      await page.getByRole('radio', { name: /^Amazon S3/ }).focus()
      await page.keyboard.press('ArrowDown')
      await page.keyboard.press('Space')
      await expect.poll(() => s3Compatible.getAttribute('aria-checked')).toBe('true')
      await type('destination-name', 'Phone bucket')
      await type('destination-bucket', 'no-such-bucket')
      await type('destination-endpoint', bucket.endpoint)
      await page.getByTestId('destination-path-style').focus()
      await page.keyboard.press('Space')
      await type('destination-access-key-id', S3RVER_CREDENTIALS.accessKeyId)
      await type('destination-secret-access-key', 'whatever')
      await screenshot(page, '71-destinations-phone-form')
      await expectAccessible(page, 'destinations: S3-compatible form (phone)')

      await page.getByTestId('destination-test-unsaved').focus()
      await page.keyboard.press('Enter')
      const missing = await testResult(page)
      expect(missing.ok).toBe('false')
      expect(missing.text).toMatch(/Bucket reachable: failed — The bucket no-such-bucket does not exist \(404\)/)
      await screenshot(page, '72-destinations-phone-test-failed')
      await expectAccessible(page, 'destinations: a failed test (phone)')

      await type('destination-bucket', BUCKET)
      await page.keyboard.press('Enter')
      const card = page.locator('[data-testid="destination"]', { hasText: 'Phone bucket' })
      await expect.poll(async () => (await testResult(page, card)).ok, { timeout: 30_000 }).toBe('true')
      await screenshot(page, '73-destinations-phone-list')
      await expectAccessible(page, 'destinations: the list (phone)')

      // Test again from the card, by keyboard: a new result is recorded.
      const before = (await listed(user.token)).destinations[0]!.last_test!.tested_at
      await card.getByTestId('destination-test').focus()
      await page.keyboard.press('Enter')
      await expect.poll(async () => (await listed(user.token)).destinations[0]!.last_test?.tested_at, { timeout: 30_000 }).not.toBe(before)
      expect((await testResult(page, card)).ok).toBe('true')

      await card.getByTestId('destination-delete').focus()
      await page.keyboard.press('Enter')
      await page.getByTestId('destination-delete-confirm').waitFor()
      await expectAccessible(page, 'destinations: delete confirmation (phone)')
      await screenshot(page, '74-destinations-phone-delete')
      await page.getByTestId('destination-delete-confirm').focus()
      await page.keyboard.press('Enter')
      await page.getByTestId('destinations-empty').waitFor()
      expect((await listed(user.token)).destinations).toHaveLength(0)
    } finally {
      await context.close()
    }
  })

  it('the export dialog offers the destinations (or where to add one); the finished export shows its delivery, in the history too', async () => {
    const [owner, other] = suite.demo.users as [typeof suite.demo.users[0], typeof suite.demo.users[0]]
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    try {
      // Without destinations: a pointer to Settings instead of a picker.
      await signIn(page, suite.url, other.email, other.password)
      await page.getByRole('button', { name: 'Export Transactions' }).click()
      await page.getByTestId('destination-picker-empty').waitFor()
      expect(await page.getByTestId('destination-picker').count()).toBe(0)
      expect(await page.getByRole('link', { name: 'Add a destination in Settings' }).getAttribute('href')).toBe('/settings/destinations')
      await context.clearCookies()

      await signIn(page, suite.url, owner.email, owner.password)
      const target = (await listed(owner.token)).destinations.find(d => d.type === 's3')!
      await page.getByRole('button', { name: 'Export Transactions' }).click()
      const picker = page.getByTestId('destination-picker')
      await picker.waitFor()
      await picker.getByRole('checkbox', { name: new RegExp(target.name.replace(/[()]/g, '\\$&')) }).check()
      await screenshot(page, '75-dialog-destinations')
      await expectAccessible(page, 'export dialog: a destination picked')

      // Repeating it keeps the choice: the schedule's own picker starts from it and the schedule saves it.
      await page.getByTestId('repeat-export').click()
      const panel = page.getByTestId('repeat-panel')
      expect(await panel.getByRole('checkbox', { name: new RegExp(target.name.replace(/[()]/g, '\\$&')) }).isChecked()).toBe(true)
      await expectAccessible(page, 'export dialog: repeat with a destination')
      await page.getByTestId('save-schedule').click()
      await panel.getByTestId('schedule-created').waitFor()
      const schedules = await (await fetch(`${suite.url}/api/analytics/schedules`, { headers: { authorization: `Bearer ${owner.token}` } })).json() as { schedules: { request: { destination_ids?: string[] } }[] }
      expect(schedules.schedules.map(s => s.request.destination_ids)).toEqual([[target.id]])
      await page.getByRole('button', { name: 'Back to the export' }).click()

      await page.getByTestId('start-export').click()

      await page.locator('[data-testid="export-status"][data-status="completed"]').waitFor({ timeout: 60_000 })
      const delivered = page.locator('[data-testid="export-status"] [data-testid="delivery"][data-status="delivered"]')
      await delivered.waitFor({ timeout: 60_000 })
      const location = (await delivered.getByTestId('delivery-location').textContent())!.trim()
      expect(location).toMatch(new RegExp(`^s3://${BUCKET}/outport/manual/\\d{4}-\\d{2}-\\d{2}/fct_transactions.*\\.csv$`))
      await screenshot(page, '76-dialog-delivered')
      await expectAccessible(page, 'export dialog: completed and delivered')

      // The delivered object is the downloaded file, byte for byte.
      const download = await page.request.get(new URL((await page.getByTestId('download').getAttribute('href'))!, suite.url).toString())
      const s3 = new S3Client({ endpoint: bucket.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS })
      const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: location.slice(`s3://${BUCKET}/`.length) }))
      expect(Buffer.from(await object.Body!.transformToByteArray()).equals(Buffer.from(await download.body()))).toBe(true)
      s3.destroy()

      await visit(page, `${suite.url}/analytics/exports`)
      const row = page.locator('[data-testid="history"] tbody tr', { hasText: 'delivered' }).first()
      await row.waitFor()
      expect(await row.getByTestId('delivery-location').textContent()).toBe(location)
      await screenshot(page, '77-history-delivered')
      await expectAccessible(page, 'export history with a delivery')
    } finally {
      await context.close()
    }
  })
})
