import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate, MigrationError, readMigrations } from '#server/lib/db/migrate'
import { createTestDatabase, MIGRATIONS_DIR, type TestDatabase } from '../helpers/database'
import { databaseShape, schemaShape } from '../helpers/schema-shape'

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(sql)).rows
  } finally {
    await client.end()
  }
}

describe('migrations', () => {
  let db: TestDatabase

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false })
  })
  afterAll(() => db?.drop())

  it('migrates a fresh database and records each migration the way Prisma does', async () => {
    const migrations = await readMigrations(MIGRATIONS_DIR)
    const result = await migrate(db.url, migrations)
    expect(result.applied).toEqual(migrations.map(m => m.name))
    expect(result.alreadyApplied).toEqual([])

    const rows = await query<{ migration_name: string, checksum: string, finished_at: Date | null, applied_steps_count: number, id: string }>(
      db.url, 'SELECT * FROM _prisma_migrations ORDER BY migration_name')
    expect(rows.map(r => r.migration_name)).toEqual(migrations.map(m => m.name))
    for (const row of rows) {
      const bytes = readFileSync(join(MIGRATIONS_DIR, row.migration_name, 'migration.sql'))
      expect(row.checksum).toBe(createHash('sha256').update(bytes).digest('hex'))
      expect(row.finished_at).toBeInstanceOf(Date)
      expect(row.applied_steps_count).toBe(1)
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/)
    }
  })

  it('matches schema.prisma exactly: tables, columns, types, defaults, enums, indexes, foreign keys', async () => {
    const actual = await databaseShape(db.url)
    const expected = schemaShape()
    expect(Object.keys(expected.tables).sort()).toEqual(['accounts', 'api_tokens', 'audit_events', 'backfill_slots', 'destinations', 'export_deliveries', 'job_notifications', 'jobs', 'login_rate_limits', 'notification_settings', 'schedule_backfills', 'schedules', 'sessions', 'tags', 'telegram_link_codes', 'users', 'webhook_deliveries', 'webhook_endpoints', 'webhook_send_rate_limits'])
    expect(actual).toEqual(expected)
  })

  it('is a no-op when applied twice', async () => {
    const before = await databaseShape(db.url)
    const result = await migrate(db.url, await readMigrations(MIGRATIONS_DIR))
    expect(result.applied).toEqual([])
    expect(result.alreadyApplied.length).toBeGreaterThan(0)
    expect(await query(db.url, 'SELECT count(*)::int AS n FROM _prisma_migrations')).toEqual([{ n: result.alreadyApplied.length }])
    expect(await databaseShape(db.url)).toEqual(before)
  })

  it('refuses a migration that was edited after it was applied', async () => {
    const [first, ...rest] = await readMigrations(MIGRATIONS_DIR)
    const edited = { ...first!, sql: `${first!.sql}\n-- edited`, checksum: '0'.repeat(64) }
    await expect(migrate(db.url, [edited, ...rest])).rejects.toThrow(MigrationError)
  })

  it('rolls back a failing migration, records it as failed, and then refuses to continue', async () => {
    const scratch = await createTestDatabase({ migrate: false })
    try {
      const broken = { name: '20990101000000_broken', sql: 'CREATE TABLE half_done (id int); SELECT * FROM no_such_table;', checksum: 'f'.repeat(64) }
      await expect(migrate(scratch.url, [broken])).rejects.toThrow(/no_such_table/)
      expect(await query(scratch.url, `SELECT to_regclass('half_done') IS NULL AS absent`)).toEqual([{ absent: true }])
      const [row] = await query<{ finished_at: Date | null, logs: string }>(scratch.url, 'SELECT finished_at, logs FROM _prisma_migrations')
      expect(row!.finished_at).toBeNull()
      expect(row!.logs).toMatch(/no_such_table/)
      await expect(migrate(scratch.url, [broken])).rejects.toThrow(/failed earlier/)
    } finally {
      await scratch.drop()
    }
  })

  it('gives tokens minted before scopes what they could do, minus changing where notifications go', async () => {
    const scratch = await createTestDatabase({ migrate: false })
    try {
      const migrations = await readMigrations(MIGRATIONS_DIR)
      const scopes = migrations.findIndex(m => m.name.endsWith('_token_scopes'))
      await migrate(scratch.url, migrations.slice(0, scopes))
      await query(scratch.url, `WITH u AS (INSERT INTO users (email, password_hash, display_name, updated_at) VALUES ('old@example.com', 'x', 'Old', now()) RETURNING id)
        INSERT INTO api_tokens (user_id, name, token_hash) SELECT id, 'old script', 'hash' FROM u`)
      await migrate(scratch.url, migrations)
      expect(await query(scratch.url, 'SELECT scopes FROM api_tokens')).toEqual([{ scopes: ['exports:read', 'exports:write', 'schedules:write'] }])
    } finally {
      await scratch.drop()
    }
  })

  it('has indexes for "the user\'s jobs newest first", "the oldest claimable job" and "the jobs ahead of this one"', async () => {
    // With sequential scans, bitmap scans and sorts priced out, the planner shows whether an index
    // can serve each query in its order at all (on a near-empty table it would rightly prefer to
    // scan and sort; a plan that still sorts has no index for the order).
    const plan = async (sql: string) => {
      const client = new pg.Client({ connectionString: db.url })
      await client.connect()
      try {
        await client.query('SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_sort = off')
        return (await client.query(`EXPLAIN ${sql}`)).rows.map(r => r['QUERY PLAN']).join('\n')
      } finally {
        await client.end()
      }
    }
    const history = await plan(`SELECT * FROM jobs WHERE user_id = '00000000-0000-4000-8000-000000000001'
      ORDER BY created_at DESC, id DESC LIMIT 21`)
    expect(history).toMatch(/Index Scan using jobs_user_id_created_at_id_idx/)
    expect(history).not.toMatch(/Sort/)
    // The claim's own selection (queue.ts): read in order from the partial index, no sort.
    const claimable = await plan(`SELECT id FROM jobs
      WHERE (status = 'pending' AND run_at <= now()) OR (status = 'running' AND locked_until < now())
      ORDER BY run_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED`)
    expect(claimable).toMatch(/Index Scan using jobs_claimable_idx/)
    expect(claimable).not.toMatch(/Sort/)
    // A pending job's queue position (history.ts): the index range ends at the job.
    const position = await plan(`SELECT count(*) FROM jobs WHERE status = 'pending' AND (run_at, created_at) < (now(), now())`)
    // (Either index serves it; with rows the planner takes the status one, index-only.)
    expect(position).toMatch(/Index (Only )?Scan using jobs_(status_run_at_created_at|claimable)_idx[\s\S]*Index Cond: [^\n]*ROW\(run_at, created_at\) < ROW\(/)
  })
})
