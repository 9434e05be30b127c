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

/** The key an attempt of the job writes its object under: exports/{user_id}/{job_id}/{claim_id}.{ext}. */
export function attemptKey(userId: string, jobId: string, extension: string): RegExp {
  return new RegExp(`^exports/${userId}/${jobId}/[0-9a-f-]{36}\\.${extension.replaceAll('.', '\\.')}$`)
}

/** The object key the job's completion recorded (its file). */
export async function recordedKey(environment: TestEnvironment, jobId: string): Promise<string> {
  const [row] = await sql<{ key: string }>(environment, 'SELECT metadata->>\'s3_key\' AS key FROM jobs WHERE id = $1', [jobId])
  return row!.key
}
