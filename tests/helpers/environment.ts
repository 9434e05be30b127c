import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDb } from '#server/lib/db/client'
import { seedDemo, type DemoOutput } from '#server/lib/demo-seed'
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '#server/lib/local/s3rver'
import { createTestDatabase, type TestDatabase } from './database'
import { freePort } from './server'

/**
 * A complete, isolated set of real infrastructure for a test run: its own PostgreSQL database, an
 * s3rver over HTTP, and a demo warehouse with users in both.
 */
export interface TestEnvironment {
  env: Record<string, string>
  database: TestDatabase
  s3: S3rverHandle
  demo: DemoOutput
  dir: string
  teardown: () => Promise<void>
}

export const TEST_BUCKET = 'outport-test-exports'

/** The demo in the warehouse: users, transactions per user, and the generator's seed. */
export interface TestEnvironmentOptions { users?: number, transactions?: number, seed?: number }

export async function createTestEnvironment(opts: TestEnvironmentOptions = {}): Promise<TestEnvironment> {
  const dir = await mkdtemp(join(tmpdir(), 'outport-test-'))
  const database = await createTestDatabase()
  const s3 = await startS3rver({ directory: join(dir, 's3'), port: await freePort(), buckets: [TEST_BUCKET] })
  const warehouse = join(dir, 'warehouse.duckdb')
  const db = createDb(database.url, { max: 2 })
  let demo: DemoOutput
  try {
    demo = await seedDemo(db, warehouse, { users: opts.users ?? 2, transactions: opts.transactions ?? 2000, seed: opts.seed ?? 7 })
  } finally {
    await db.$disconnect()
  }
  const env = {
    DATABASE_URL: database.url,
    WAREHOUSE_PATH: warehouse,
    S3_EXPORTS_BUCKET: TEST_BUCKET,
    S3_ENDPOINT: s3.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'eu-west-2',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    NUXT_SESSION_PASSWORD: 'test-session-password-that-is-long-enough-0123456789',
    APP_URL: 'http://127.0.0.1'
  }
  return {
    env,
    database,
    s3,
    demo,
    dir,
    teardown: async () => {
      await s3.stop()
      await database.drop()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
