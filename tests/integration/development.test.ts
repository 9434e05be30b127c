import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { findUserByToken } from '#server/lib/auth/tokens'
import { loadConfig } from '#server/lib/config'
import { createDb } from '#server/lib/db/client'
import { createMailer } from '#server/lib/notifications/channels/email'
import { prepareDevelopment } from '#server/lib/local/development'
import { redact } from '#server/lib/redact'
import type { LocalServices } from '#server/lib/local/services'
import { checkBucket, createStorage } from '#server/lib/storage/s3'

/**
 * What `npm run dev` does with nothing configured, in a folder of its own: the real embedded
 * PostgreSQL and s3rver, migrations, the demo warehouse and user, and the printed sign-in.
 */
describe('zero-configuration development', () => {
  const stops: LocalServices[] = []
  let dir: string

  afterAll(async () => {
    for (const local of stops) await local.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('starts PostgreSQL and S3, migrates, builds a demo and prints a working sign-in; a second start reuses them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'outport-dev-'))
    // The embedded server runs as the postgres OS user when we are root: it must reach its folder.
    await chmod(dir, 0o755)
    const env: Record<string, string | undefined> = { WAREHOUSE_PATH: join(dir, 'warehouse.duckdb') }
    const lines: string[] = []
    stops.push(await prepareDevelopment(env, line => lines.push(line), { dataDir: join(dir, 'data') }))

    expect(lines.some(l => /^Started PostgreSQL \(embedded\)/.test(l))).toBe(true)
    expect(lines.some(l => /^Started S3-compatible server \(s3rver\)/.test(l))).toBe(true)
    expect(lines.some(l => l.startsWith(`Started SMTP catcher on ${env.SMTP_URL}: emails are written as .eml files to ${join(dir, 'data', 'mail')}`))).toBe(true)
    expect(env.WEBHOOK_ALLOW_HOSTS).toBe('127.0.0.1,localhost')
    await createMailer(env.SMTP_URL!).sendMail({ from: 'a@localhost', to: 'b@localhost', subject: 'Caught', text: 'hello' })
    const caught = await readdir(join(dir, 'data', 'mail'))
    expect(caught).toHaveLength(1)
    expect(await readFile(join(dir, 'data', 'mail', caught[0]!), 'utf8')).toContain('Subject: Caught')
    const signIn = lines.map(l => /^Demo sign-in: (\S+) \/ (\S+)\s+API token: (\S+)$/.exec(l)).find(Boolean)
    expect(signIn).toBeTruthy()
    // The log redaction lets this one line through whole, once; the token anywhere else is hidden.
    expect(redact(signIn![0])).toBe(signIn![0])
    expect(redact(signIn![0])).not.toContain(signIn![3])

    const config = loadConfig({ ...env, NUXT_SESSION_PASSWORD: 'test-session-password-that-is-long-enough-0123456789' })
    await checkBucket(createStorage(config))
    const db = createDb(config.DATABASE_URL, { max: 1 })
    try {
      expect(await findUserByToken(db, signIn![3]!)).toMatchObject({ email: signIn![1] })
      expect(await db.account.count()).toBeGreaterThan(0)
    } finally {
      await db.$disconnect()
    }

    // As a dev-server restart: the running services and the warehouse are reused, nothing rebuilt.
    const again: string[] = []
    const second = { WAREHOUSE_PATH: env.WAREHOUSE_PATH }
    stops.push(await prepareDevelopment(second, line => again.push(line), { dataDir: join(dir, 'data') }))
    expect(again).toEqual([])
    expect((second as Record<string, string | undefined>).SMTP_URL).toBe(env.SMTP_URL)
    expect((second as Record<string, string | undefined>).DATABASE_URL).toBe(env.DATABASE_URL)
  }, 120_000)
})
