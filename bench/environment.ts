import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { startS3rver } from '../server/lib/local/s3rver'
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
