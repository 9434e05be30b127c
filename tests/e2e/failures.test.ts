import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { S3RVER_CREDENTIALS, startS3rver } from '#server/lib/local/s3rver'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { TEST_BUCKET } from '../helpers/environment'
import { attemptKey } from '../helpers/faults'
import { client } from '../helpers/http'
import { useServerSuite } from '../helpers/suite'

/** Storage outages, on an environment of its own (its own database, so no other worker interferes). */
describe('when the S3 server is unreachable', () => {
  const suite = useServerSuite({
    name: 'failures',
    users: 1,
    transactions: 500,
    prepare: ({ environment }) => environment.s3.stop(),
    env: ({ environment }) => ({
      EXPORT_MAX_ATTEMPTS: '2',
      EXPORT_RETRY_BASE_MS: '200',
      EXPORT_WORK_DIR: join(environment.dir, 'work')
    }),
    requireHealthy: false
  })

  it('health reports storage down with 503', async () => {
    // Probes are cached for a few seconds: a first one that timed out on a busy machine (the
    // warehouse opening cold) clears by itself; storage must stay down throughout.
    let body: { checks: Record<string, unknown> } | undefined
    await expect.poll(async () => {
      const res = await fetch(`${suite.url}/api/health`)
      expect(res.status).toBe(503)
      body = await res.json()
      return body!.checks
    }, { timeout: 20_000, interval: 1000 }).toEqual({ database: { ok: true }, warehouse: { ok: true }, storage: { ok: false, error: 'storage unavailable' } })
    // The driver's message (host and port) stays in the server's log.
    expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/)
  })

  it('fails the job after its attempts with a clear error and leaves no temp file; works again once storage is back', async () => {
    const { createExport, waitForExport } = client(suite.url)
    const user = suite.demo.users[0]!
    const workDir = suite.env.EXPORT_WORK_DIR!
    const jobId = await createExport(user.token, { dataset_id: DATASETS[0]!.id, format: 'csv' })
    const job = await waitForExport(user.token, jobId)
    expect(job.status).toBe('failed')
    expect(job.attempts).toBe(2)
    expect(job.error).toEqual({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/storage.*could not be reached/i) })
    expect(job.download_url).toBeNull()
    expect((await readdir(workDir)).filter(f => f !== 'duckdb-spill')).toEqual([])

    // Storage comes back on the same address: the next export goes through.
    const port = Number(new URL(suite.env.S3_ENDPOINT!).port)
    const s3 = await startS3rver({ directory: join(suite.environment.dir, 's3'), port, buckets: [TEST_BUCKET] })
    try {
      const okId = await createExport(user.token, { dataset_id: DATASETS[0]!.id, format: 'parquet' })
      const ok = await waitForExport(user.token, okId)
      expect(ok.status).toBe('completed')
      expect(ok.row_count).toBe(500)
      // Only the successful export's object exists: the failed attempts left nothing behind.
      const s3client = new S3Client({ endpoint: s3.endpoint, region: 'eu-west-2', forcePathStyle: true, credentials: S3RVER_CREDENTIALS })
      const listing = await s3client.send(new ListObjectsV2Command({ Bucket: TEST_BUCKET }))
      expect(listing.Contents?.map(o => o.Key)).toEqual([expect.stringMatching(attemptKey(user.user_id, okId, 'parquet'))])
      expect((await readdir(workDir)).filter(f => f !== 'duckdb-spill')).toEqual([])
    } finally {
      await s3.stop()
    }
  })
})
