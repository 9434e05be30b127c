import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { S3RVER_CREDENTIALS, startS3rver } from '../server/lib/local/s3rver'
import { createTestDatabase } from '../tests/helpers/database'
import { freePort } from '../tests/helpers/server'

/** What every benchmark starts from: the built app (built if missing), an empty `dir`, a throwaway database, an s3rver with `bucket`. */
export async function benchEnvironment(dir: string, bucket: string) {
  if (!existsSync('.output/server/index.mjs')) {
    console.error('Building the app (npm run build)...')
    execFileSync('node_modules/.bin/nuxt', ['build'], { stdio: 'inherit' })
  }
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  const database = await createTestDatabase()
  const s3 = await startS3rver({ directory: join(dir, 's3'), port: await freePort(), buckets: [bucket] })
  return { database, s3 }
}

/** The built server's environment on a bench environment; DUCKDB_*, EXPORT_THREAD_NICE and EXPORT_WORKER_CONCURRENCY pass through. */
export function benchServerEnv(env: { database: { url: string }, s3: { endpoint: string } }, dir: string, bucket: string): Record<string, string> {
  const passed = ['DUCKDB_MEMORY_LIMIT', 'DUCKDB_THREADS', 'EXPORT_THREAD_NICE', 'EXPORT_WORKER_CONCURRENCY', 'NODE_OPTIONS'].filter(name => process.env[name])
  return {
    DATABASE_URL: env.database.url,
    S3_EXPORTS_BUCKET: bucket,
    S3_ENDPOINT: env.s3.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    NUXT_SESSION_PASSWORD: 'bench-session-password-that-is-long-enough-0123456789',
    EXPORT_WORK_DIR: join(dir, 'work'),
    METRICS_TOKEN: 'bench-metrics-token',
    ...Object.fromEntries(passed.map(name => [name, process.env[name]!]))
  }
}
