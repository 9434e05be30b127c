import { createHash, randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'

/**
 * Applies the SQL migrations under prisma/migrations the way `prisma migrate deploy` does, and
 * records them in `_prisma_migrations` with Prisma's own columns and checksums, so Prisma's CLI
 * agrees with the result on any machine that has its native engine.
 */

export interface Migration { name: string, sql: string, checksum: string }

export interface MigrateResult { applied: string[], alreadyApplied: string[] }

export class MigrationError extends Error {}

// Prisma takes this advisory lock around migrate deploy; sharing it keeps the two mutually exclusive.
const PRISMA_ADVISORY_LOCK = 72707369

const MIGRATIONS_TABLE_DDL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`

export async function readMigrations(dir: string): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  const names = entries.filter(e => e.isDirectory()).map(e => e.name).sort()
  return Promise.all(names.map(async (name) => {
    const bytes = await readFile(join(dir, name, 'migration.sql'))
    return { name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') }
  }))
}

interface AppliedRow { migration_name: string, checksum: string, finished_at: Date | null, rolled_back_at: Date | null }

export async function migrate(databaseUrl: string, migrations: Migration[]): Promise<MigrateResult> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  const result: MigrateResult = { applied: [], alreadyApplied: [] }
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK])
    await client.query(MIGRATIONS_TABLE_DDL)
    const { rows } = await client.query<AppliedRow>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL'
    )
    const applied = new Map(rows.map(r => [r.migration_name, r]))

    for (const migration of migrations) {
      const row = applied.get(migration.name)
      if (row?.finished_at) {
        if (row.checksum !== migration.checksum) {
          throw new MigrationError(`Migration ${migration.name} was modified after it was applied (checksum mismatch)`)
        }
        result.alreadyApplied.push(migration.name)
        continue
      }
      if (row) {
        throw new MigrationError(`Migration ${migration.name} failed earlier; resolve it (see _prisma_migrations.logs) before migrating again`)
      }
      await applyOne(client, migration)
      result.applied.push(migration.name)
    }
    return result
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]).catch(() => {})
    await client.end()
  }
}

async function applyOne(client: pg.Client, migration: Migration) {
  const id = randomUUID()
  try {
    await client.query('BEGIN')
    await client.query(
      'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)',
      [id, migration.checksum, migration.name]
    )
    await client.query(migration.sql)
    await client.query(
      'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1',
      [id]
    )
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK')
    // Record the failure as Prisma does (a row with logs and no finished_at) so nobody re-runs a
    // half-understood migration blindly.
    await client.query(
      'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, started_at, applied_steps_count) VALUES ($1, $2, $3, $4, now(), 0)',
      [id, migration.checksum, migration.name, String(error)]
    )
    throw new MigrationError(`Migration ${migration.name} failed: ${(error as Error).message}`)
  }
}
