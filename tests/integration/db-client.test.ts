import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, isConnectionLoss, isDatabaseUnavailable, type Db } from '#server/lib/db/client'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

/**
 * Ends every session on the test database, as a failover or restart would, without letting this
 * process's event loop run: the pool's idle clients cannot notice before the next statement is sent
 * on one of them, which is the race a live server meets.
 */
function terminateSessionsUnnoticed(url: string): number {
  const out = execFileSync('psql', [url, '-tAc', `SELECT count(*) FROM (SELECT pg_terminate_backend(pid)
    FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()) t`]).toString()
  // Give the backends time to exit, still without yielding.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200)
  return Number(out.trim())
}

describe('database client', () => {
  let database: TestDatabase
  let db: Db

  beforeAll(async () => {
    database = await createTestDatabase()
    db = createDb(database.url, { max: 5 })
  })
  afterAll(async () => {
    await db?.$disconnect()
    await database?.drop()
  })

  /** Fills the pool with idle connections, then has the server end them all. */
  async function poolOfDeadConnections() {
    await Promise.all(Array.from({ length: 5 }, () => db.pool.query('SELECT pg_sleep(0.02)')))
    expect(db.pool.idleCount).toBe(5)
    expect(terminateSessionsUnnoticed(database.url)).toBe(5)
  }

  it('reads through Prisma and prepared statements survive connections the server ended', async () => {
    await db.user.create({ data: { email: 'r@example.com', passwordHash: 'x', displayName: 'R' } })
    await poolOfDeadConnections()
    expect(await db.user.count()).toBe(1)
    await poolOfDeadConnections()
    const { rows } = await db.pool.query({ name: 'test_users', text: 'SELECT email FROM users', values: [] })
    expect(rows).toEqual([{ email: 'r@example.com' }])
  })

  it('does not retry a write: whether it committed before the connection died is unknown', async () => {
    await poolOfDeadConnections()
    const write = db.pool.query('UPDATE users SET display_name = \'S\'')
    await expect(write).rejects.toSatisfy(isConnectionLoss)
    // Once the event loop has run, the pool has dropped the dead connections; the next write works.
    await new Promise(resolve => setTimeout(resolve, 50))
    await expect(db.pool.query('UPDATE users SET display_name = \'S\'')).resolves.toMatchObject({ rowCount: 1 })
  })

  it('a pool Prisma never used outlives idle connections the server ends (no uncaught error)', async () => {
    const direct = createDb(database.url, { max: 3 })
    try {
      await Promise.all(Array.from({ length: 3 }, () => direct.pool.query('SELECT pg_sleep(0.02)')))
      expect(direct.pool.idleCount).toBe(3)
      // While the event loop runs, as in a server: each idle client hears its FATAL and the pool
      // emits 'error' — which, unheard, would be thrown as an uncaught exception.
      execFileSync('psql', [database.url, '-tAc', 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()'])
      for (let i = 0; i < 50 && direct.pool.totalCount > 0; i++) await new Promise(resolve => setTimeout(resolve, 20))
      expect(direct.pool.totalCount).toBe(0)
      await expect(direct.pool.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] })
    } finally {
      await direct.pool.end()
    }
  })

  it('tells a lost connection from a failing statement', async () => {
    await expect(db.pool.query('SELECT * FROM no_such_table')).rejects.not.toSatisfy(isConnectionLoss)
    await expect(db.user.findUnique({ where: { id: 'not-a-uuid' } })).rejects.not.toSatisfy(isDatabaseUnavailable)
    await expect(db.pool.query('SELECT * FROM no_such_table')).rejects.not.toSatisfy(isDatabaseUnavailable)
    expect(isConnectionLoss(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true)
    expect(isConnectionLoss(new Error('Connection terminated unexpectedly'))).toBe(true)
    expect(isConnectionLoss(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false)
  })
})

describe('an unreachable database', () => {
  it('is told apart from failing statements, through Prisma\'s wrapping and from the pool', async () => {
    // A port nothing listens on.
    const db = createDb('postgresql://postgres@127.0.0.1:9/outport', { max: 1 })
    try {
      for (const attempt of [() => db.user.count(), () => db.$queryRaw`SELECT 1`, () => db.pool.query('SELECT 1'), () => db.$transaction(tx => tx.user.count())]) {
        await expect(attempt()).rejects.toSatisfy(isDatabaseUnavailable)
      }
    } finally {
      await db.$disconnect()
    }
  })
})
