import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import pg from 'pg'
import { migrate, readMigrations } from '#server/lib/db/migrate'

/**
 * Each test suite gets its own throwaway database on the PostgreSQL at TEST_DATABASE_URL (default:
 * the local server, trust auth), so suites never see each other's rows.
 */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'

export interface TestDatabase { url: string, name: string, drop: () => Promise<void> }

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `outport_test_${randomBytes(6).toString('hex')}`
  await admin(`CREATE DATABASE ${name}`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  if (options.migrate ?? true) await migrate(url.toString(), await readMigrations(MIGRATIONS_DIR))
  return {
    url: url.toString(),
    name,
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  }
}

export const MIGRATIONS_DIR = join(import.meta.dirname, '../../prisma/migrations')

async function admin(sql: string) {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/** Runs `run` on a connection of its own to `url`, closed afterwards whatever happens. */
export async function withPg<T>(url: string, run: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  try {
    return await run(db)
  } finally {
    await db.end()
  }
}
