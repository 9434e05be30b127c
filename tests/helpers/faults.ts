import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { S3RVER_CREDENTIALS } from '#server/lib/local/s3rver'
import { TEST_BUCKET, type TestEnvironment } from './environment'

/** Small tools for the fault-injection suites: SQL on the environment's database, S3 listings, polling. */

export async function sql<T = Record<string, unknown>>(environment: TestEnvironment, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: environment.database.url })
  await client.connect()
  try {
    return (await client.query(text, params)).rows as T[]
  } finally {
    await client.end()
  }
}

/** Every object key in the test bucket, read from s3rver directly (not through a fault proxy). */
export async function objectKeys(environment: TestEnvironment): Promise<string[]> {
  const s3 = new S3Client({ endpoint: environment.s3.endpoint, region: 'eu-west-2', forcePathStyle: true, credentials: S3RVER_CREDENTIALS })
  const keys: string[] = []
  let token: string | undefined
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: TEST_BUCKET, ContinuationToken: token }))
    keys.push(...(page.Contents ?? []).map(o => o.Key!))
    token = page.NextContinuationToken
  } while (token)
  s3.destroy()
  return keys
}

/** Polls until `check` returns a truthy value; throws with `what` after the timeout. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(value)})`)
    await sleep(intervalMs)
  }
}
