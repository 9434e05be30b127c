import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findUserByToken } from '#server/lib/auth/tokens'
import { TOKEN_SCOPE_IDS } from '#shared/types/tokens'
import { verifyPassword } from '#server/lib/auth/passwords'
import { createDb } from '#server/lib/db/client'
import { openWarehouse, queryRows } from '#server/lib/warehouse/duckdb'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '../..')

/** The CLI as a user runs it: `npm run cli -- …` is `tsx server/cli.ts …`. */
async function cli(args: string[], env: Record<string, string>) {
  const { stdout, stderr } = await run(join(ROOT, 'node_modules/.bin/tsx'), ['server/cli.ts', ...args], {
    cwd: ROOT, env: { PATH: process.env.PATH!, ...env }, maxBuffer: 16 * 1024 * 1024
  })
  return { json: JSON.parse(stdout), stderr }
}

describe('npm run cli', () => {
  let database: TestDatabase
  let dir: string
  let env: Record<string, string>

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: false })
    dir = await mkdtemp(join(tmpdir(), 'outport-cli-'))
    env = { DATABASE_URL: database.url, WAREHOUSE_PATH: join(dir, 'warehouse.duckdb') }
  })
  afterAll(async () => {
    await database?.drop()
    await rm(dir, { recursive: true, force: true })
  })

  it('migrate applies the migrations to a fresh database and prints what it did', async () => {
    const { json } = await cli(['migrate'], env)
    expect(json.applied.length).toBeGreaterThan(0)
    expect((await cli(['migrate'], env)).json.applied).toEqual([])
  })

  it('demo prints one JSON document whose users, ids and counts match Postgres and the warehouse', async () => {
    const { json } = await cli(['demo', '--users', '2', '--transactions', '750', '--seed', '5'], env)
    expect(json.warehouse).toBe(env.WAREHOUSE_PATH)
    expect(json.users).toHaveLength(2)
    const instance = await openWarehouse(env.WAREHOUSE_PATH!)
    const connection = await instance.connect()
    const db = createDb(database.url, { max: 2 })
    try {
      for (const user of json.users) {
        expect(Object.keys(user).sort()).toEqual(['account_ids', 'email', 'password', 'tag_ids', 'token', 'transactions', 'user_id'])
        expect(user.transactions).toBe(750)
        const [{ n }] = await queryRows<{ n: string }>(connection, `SELECT count(*)::VARCHAR AS n FROM transactions WHERE user_id = '${user.user_id}'`) as [{ n: string }]
        expect(Number(n)).toBe(750)
        const row = await db.user.findUniqueOrThrow({ where: { id: user.user_id }, include: { accounts: true, tags: true } })
        expect(row.email).toBe(user.email)
        expect(await verifyPassword(row.passwordHash, user.password)).toBe(true)
        expect(row.accounts.map(a => a.id).sort()).toEqual([...user.account_ids].sort())
        expect(row.tags.map(t => t.id).sort()).toEqual([...user.tag_ids].sort())
        expect((await findUserByToken(db, user.token))?.id).toBe(user.user_id)
        // The tokens the demo prints are the operator's: every scope.
        expect((await findUserByToken(db, user.token))?.scopes).toEqual(TOKEN_SCOPE_IDS)
      }
      // Deterministic: the same seed gives the same ids again.
      const again = await cli(['demo', '--users', '2', '--transactions', '750', '--seed', '5'], env)
      expect(again.json.users.map((u: { user_id: string }) => u.user_id)).toEqual(json.users.map((u: { user_id: string }) => u.user_id))
    } finally {
      connection.closeSync()
      instance.closeSync()
      await db.$disconnect()
    }
  })

  it('user:create, token:create and user:disable print JSON; the token authenticates that user until it is disabled', async () => {
    const created = (await cli(['user:create', '--email', 'New.User@Example.com', '--password', 'correct horse'], env)).json
    expect(created).toMatchObject({ email: 'new.user@example.com' })
    const { json } = await cli(['token:create', '--email', 'new.user@example.com', '--name', 'laptop'], env)
    expect(json.token).toMatch(/^otp_/)
    const db = createDb(database.url, { max: 1 })
    try {
      expect((await findUserByToken(db, json.token))?.id).toBe(created.user_id)
      expect(json.scopes).toEqual(TOKEN_SCOPE_IDS)
      expect((await findUserByToken(db, json.token))?.scopes).toEqual(TOKEN_SCOPE_IDS)
      const narrow = (await cli(['token:create', '--email', 'new.user@example.com', '--name', 'narrow', '--scopes', 'webhooks:write, exports:read'], env)).json
      expect(narrow.scopes).toEqual(['exports:read', 'webhooks:write'])
      expect((await findUserByToken(db, narrow.token))?.scopes).toEqual(['exports:read', 'webhooks:write'])
      // user:disable stops the user's tokens (and sessions) at once.
      const disabled = (await cli(['user:disable', '--email', 'new.user@example.com'], env)).json
      expect(disabled).toMatchObject({ user_id: created.user_id, email: 'new.user@example.com', sessions_ended: 0 })
      expect(new Date(disabled.disabled_at).getTime()).toBeLessThanOrEqual(Date.now())
      expect(await findUserByToken(db, json.token)).toBeNull()
    } finally {
      await db.$disconnect()
    }
  })

  it('fails with a usage message and exit code 2 on bad arguments, changing nothing', async () => {
    const error = await cli(['token:create', '--email', 'nobody@example.com'], env).catch(e => e)
    expect(error.code).toBe(2)
    expect(error.stderr).toMatch(/No user with email nobody@example.com/)
    const badScope = await cli(['token:create', '--email', 'new.user@example.com', '--scopes', 'exports:read,admin'], env).catch(e => e)
    expect(badScope.code).toBe(2)
    expect(badScope.stderr).toMatch(/--scopes takes a comma-separated list of exports:read, .* \(unknown: admin\)/)
    const unknown = await cli(['frobnicate'], env).catch(e => e)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/Usage: npm run cli/)
    const client = new pg.Client({ connectionString: database.url })
    await client.connect()
    try {
      expect((await client.query('SELECT count(*)::int AS n FROM api_tokens WHERE name = \'cli\'')).rows[0].n).toBe(0)
    } finally {
      await client.end()
    }
  })
})
