import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '#server/lib/config'
import { createDb } from '#server/lib/db/client'
import { expireExports } from '#server/lib/exports/retention'
import { createStorage } from '#server/lib/storage/s3'
import { DATASETS } from '#server/lib/warehouse/datasets'
import type { TestEnvironment } from '../helpers/environment'
import { attemptKey, objectKeys, recordedKey, sql, waitFor } from '../helpers/faults'
import { client } from '../helpers/http'
import { useServerSuite } from '../helpers/suite'

const [TRANSACTIONS, , MONTHLY] = DATASETS.map(d => d.id) as [string, string, string]

/**
 * Limits, idempotency, cancellation and retention against the built server, on an environment of
 * its own: an API-only process (so jobs stay pending until a worker is started) and a worker
 * process whose S3 traffic goes through a fault proxy. The warehouse is large enough (700k
 * transactions per user, one DuckDB thread) that an export is caught mid-query.
 */
describe('export lifecycle', () => {
  const suite = useServerSuite({
    name: 'lifecycle',
    users: 2,
    transactions: 700_000,
    seed: 11,
    faultProxy: true,
    env: {
      OUTPORT_ROLE: 'web',
      EXPORT_MAX_ACTIVE_PER_USER: '3',
      EXPORT_MAX_QUEUE_DEPTH: '7',
      EXPORT_MAX_RANGE_DAYS: '1100'
    }
  })
  let workDir: string
  let http: ReturnType<typeof client>
  let alice: TestEnvironment['demo']['users'][0]
  let bob: TestEnvironment['demo']['users'][0]

  beforeAll(() => {
    ;[alice, bob] = suite.demo.users as [typeof alice, typeof bob]
    workDir = join(suite.environment.dir, 'work')
    http = client(suite.url)
  })

  const pendingCount = async () => (await sql<{ n: number }>(suite.environment, 'SELECT count(*)::int AS n FROM jobs WHERE status = \'pending\''))[0]!.n
  const monthly = { dataset_id: MONTHLY, format: 'csv', start_date: '2025-01-01', end_date: '2025-12-31' }

  describe('limits (no worker running)', () => {
    it('allows 3 active exports per user with a clear 429, exactly 3 of 10 concurrent requests, and a 503 when the queue is full', async () => {
      const mine: string[] = []
      for (let i = 0; i < 3; i++) mine.push(await http.createExport(alice.token, monthly))
      const refused = await http.postJson('/api/analytics/exports', monthly, { token: alice.token })
      expect(refused.status).toBe(429)
      expect(refused.headers.get('retry-after')).toBe('30')
      expect((await refused.json()).message).toMatch(/already have 3 exports waiting or running \(the limit is 3\)/)

      const racing = await Promise.all(Array.from({ length: 10 }, () => http.postJson('/api/analytics/exports', monthly, { token: bob.token })))
      expect(racing.map(r => r.status).sort()).toEqual([202, 202, 202, 429, 429, 429, 429, 429, 429, 429])
      expect(await pendingCount()).toBe(6)

      // Cancelling frees a slot at once.
      expect((await http.api(`/api/analytics/exports/${mine[0]}/cancel`, { method: 'POST', token: alice.token })).status).toBe(200)
      // The queue: 5 pending + 2 more from elsewhere = the depth limit of 7.
      await sql(suite.environment, `INSERT INTO jobs (user_id, type, status, metadata, updated_at)
        SELECT $2::uuid, type, 'pending', metadata, now() FROM jobs, generate_series(1, 2) WHERE jobs.id = $1`, [mine[1], bob.user_id])
      const full = await http.postJson('/api/analytics/exports', monthly, { token: alice.token })
      expect(full.status).toBe(503)
      expect((await full.json()).message).toMatch(/busy/)
      expect(await pendingCount()).toBe(7)
      await sql(suite.environment, 'UPDATE jobs SET status = \'cancelled\' WHERE status = \'pending\'')
    })

    it('caps the date range at EXPORT_MAX_RANGE_DAYS and the body size, creating nothing', async () => {
      const tooLong = await http.postJson('/api/analytics/exports', { ...monthly, start_date: '2024-01-01', end_date: '2027-01-05' }, { token: alice.token })
      expect(tooLong.status).toBe(400)
      expect((await tooLong.json()).data.errors).toEqual([{ field: 'end_date', message: 'The range is 1101 days; at most 1100 days are allowed' }])
      const exactly = await http.postJson('/api/analytics/exports', { ...monthly, start_date: '2024-01-01', end_date: '2027-01-04' }, { token: alice.token })
      expect(exactly.status).toBe(202)
      const open = await http.postJson('/api/analytics/exports', { dataset_id: MONTHLY, format: 'csv' }, { token: alice.token })
      expect(open.status).toBe(400)
      expect((await open.json()).data.errors[0].field).toBe('start_date')
      const huge = await http.postJson('/api/analytics/exports', { ...monthly, padding: 'x'.repeat(200_000) }, { token: alice.token })
      expect(huge.status).toBe(413)
      expect(await pendingCount()).toBe(1)
      await sql(suite.environment, 'UPDATE jobs SET status = \'cancelled\' WHERE status = \'pending\'')
    })
  })

  describe('Idempotency-Key', () => {
    it('returns the same job for the same key and body, 422 for another body, and scopes keys per user', async () => {
      const post = (token: string, body: object, key: string) => http.postJson('/api/analytics/exports', body, { token, headers: { 'idempotency-key': key } })
      const first = await post(alice.token, monthly, 'order-42')
      expect(first.status).toBe(202)
      const { job_id: jobId } = await first.json()
      // Retries of the same request, also concurrent ones.
      const again = await Promise.all([post(alice.token, monthly, 'order-42'), post(alice.token, { ...monthly, account_ids: [] }, 'order-42')])
      for (const res of again) {
        expect(res.status).toBe(202)
        expect(res.headers.get('idempotent-replayed')).toBe('true')
        expect((await res.json()).job_id).toBe(jobId)
      }
      const other = await post(alice.token, { ...monthly, format: 'parquet' }, 'order-42')
      expect(other.status).toBe(422)
      expect((await other.json()).message).toMatch(/different request/)
      const bobs = await post(bob.token, monthly, 'order-42')
      expect(bobs.status).toBe(202)
      expect((await bobs.json()).job_id).not.toBe(jobId)
      for (const bad of ['has space', 'x'.repeat(256)]) {
        const res = await post(alice.token, monthly, bad)
        expect(res.status).toBe(400)
        expect((await res.json()).data.errors[0].field).toBe('Idempotency-Key')
      }
      expect(await pendingCount()).toBe(2)
      await sql(suite.environment, 'UPDATE jobs SET status = \'cancelled\' WHERE status = \'pending\'')
    })
  })

  describe('cancellation', () => {
    it('cancels a pending job at once; a second cancel is 409, another user\'s is 404, a bad id 404, no credentials 401', async () => {
      const jobId = await http.createExport(alice.token, monthly)
      const res = await http.api(`/api/analytics/exports/${jobId}/cancel`, { method: 'POST', token: alice.token })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ job_id: jobId, status: 'cancelled', download_url: null })
      expect((await http.getExport(alice.token, jobId)).status).toBe('cancelled')
      const twice = await http.api(`/api/analytics/exports/${jobId}/cancel`, { method: 'POST', token: alice.token })
      expect(twice.status).toBe(409)
      expect((await twice.json()).message).toBe('The export is already cancelled')
      const bobsJob = await http.createExport(bob.token, monthly)
      expect((await http.api(`/api/analytics/exports/${bobsJob}/cancel`, { method: 'POST', token: alice.token })).status).toBe(404)
      expect((await http.getExport(bob.token, bobsJob)).status).toBe('pending')
      expect((await http.api('/api/analytics/exports/..%2F..%2Fetc/cancel', { method: 'POST', token: alice.token })).status).toBe(404)
      expect((await http.api(`/api/analytics/exports/${bobsJob}/cancel`, { method: 'POST' })).status).toBe(401)
      expect((await http.api(`/api/analytics/exports/${bobsJob}/cancel`, { method: 'POST', token: bob.token })).status).toBe(200)
    })

    it('starts the worker', async () => {
      await suite.startServer({
        OUTPORT_ROLE: 'worker',
        S3_ENDPOINT: suite.proxy.endpoint,
        EXPORT_WORK_DIR: workDir,
        EXPORT_WORKER_CONCURRENCY: '1',
        DUCKDB_THREADS: '1'
      })
    })

    /** Starts a transactions export and cancels it once `ready` says the moment has come. */
    async function cancelWhen(ready: (job: Awaited<ReturnType<typeof http.getExport>>) => boolean) {
      const jobId = await http.createExport(alice.token, { dataset_id: TRANSACTIONS, format: 'csv', start_date: '2023-11-01', end_date: '2026-10-31' })
      const seen = await waitFor('the export to reach the phase', async () => {
        const job = await http.getExport(alice.token, jobId)
        expect(job.status === 'pending' || job.status === 'running').toBe(true)
        // The temp file existing proves the export is under way, so its removal measures the stop.
        return ready(job) && (await readdir(workDir)).some(f => f.startsWith(jobId) && f.endsWith('.csv')) && job
      }, 60_000, 20)
      const res = await http.api(`/api/analytics/exports/${jobId}/cancel`, { method: 'POST', token: alice.token })
      expect(res.status).toBe(200)
      const cancelledAt = performance.now()
      // The worker stops and removes its temp file: the file disappearing is the worker noticing.
      await waitFor('the temp file to be removed', async () => !(await readdir(workDir)).some(f => f.startsWith(jobId)), 10_000, 10)
      const noticedMs = performance.now() - cancelledAt
      return { jobId, seen, noticedMs }
    }

    it('interrupts DuckDB when cancelled while querying: cancelled, no temp file, nothing in S3', async () => {
      const { jobId, seen, noticedMs } = await cancelWhen(job => job.progress?.phase === 'querying')
      expect(seen.progress!.phase).toBe('querying')
      console.info(`cancel while querying: worker stopped ${Math.round(noticedMs)} ms after the cancel`)
      expect(noticedMs).toBeLessThan(2000)
      // It stays cancelled: the worker did not complete or fail it after all.
      await new Promise(resolve => setTimeout(resolve, 1000))
      expect(await http.getExport(alice.token, jobId)).toMatchObject({ status: 'cancelled', download_url: null, error: null })
      expect(await objectKeys(suite.environment)).toEqual([])
    })

    it('aborts the multipart upload when cancelled while uploading: cancelled, no temp file, nothing in S3', async () => {
      // 2 MB/s: the ~100 MB file takes most of a minute, so the cancel lands mid-upload.
      suite.proxy.uploadBytesPerSecond = 2_000_000
      try {
        const { jobId, seen, noticedMs } = await cancelWhen(job => job.progress?.phase === 'uploading' && (job.progress.bytes_uploaded ?? 0) > 0)
        expect(seen.progress!.phase).toBe('uploading')
        console.info(`cancel while uploading: worker stopped ${Math.round(noticedMs)} ms after the cancel`)
        expect(noticedMs).toBeLessThan(2000)
        await new Promise(resolve => setTimeout(resolve, 1000))
        expect((await http.getExport(alice.token, jobId)).status).toBe('cancelled')
        expect(await objectKeys(suite.environment)).toEqual([])
      } finally {
        suite.proxy.uploadBytesPerSecond = 0
      }
    })

    it('leaves the worker free for the next export', async () => {
      const jobId = await http.createExport(alice.token, monthly)
      const job = await http.waitForExport(alice.token, jobId)
      expect(job.status).toBe('completed')
      console.info(`next export claimed ${Date.parse(job.started_at!) - Date.parse(job.created_at)} ms after creation, done ${Date.parse(job.completed_at!) - Date.parse(job.started_at!)} ms later`)
      expect(await objectKeys(suite.environment)).toEqual([expect.stringMatching(attemptKey(alice.user_id, jobId, 'csv'))])
      expect((await readdir(workDir)).filter(f => f !== 'duckdb-spill')).toEqual([])
    })
  })

  describe('retention', () => {
    it('expires exports past EXPORT_RETENTION_HOURS: object deleted, status without URL, download 410', async () => {
      const jobId = await http.createExport(bob.token, monthly)
      const done = await http.waitForExport(bob.token, jobId)
      expect(done.download_url).toBeTruthy()
      const key = await recordedKey(suite.environment, jobId)
      expect(key).toMatch(attemptKey(bob.user_id, jobId, 'csv'))
      expect(await objectKeys(suite.environment)).toContain(key)

      // The sweep the scheduled task runs, with the clock 25 hours ahead.
      const config = loadConfig(suite.environment.env)
      const db = createDb(config.DATABASE_URL, { max: 2 })
      try {
        const { expired } = await expireExports(db, createStorage(config), { retentionHours: 24, now: new Date(Date.now() + 25 * 3600_000) })
        expect(expired).toContain(jobId)
      } finally {
        await db.$disconnect()
      }
      expect(await objectKeys(suite.environment)).not.toContain(key)
      expect(await http.getExport(bob.token, jobId)).toMatchObject({ status: 'expired', download_url: null, expires_at: null })
      const download = await http.api(`/api/analytics/exports/${jobId}/download`, { token: bob.token })
      expect(download.status).toBe(410)
      // The presigned URL handed out before no longer finds a file either.
      expect((await fetch(done.download_url!)).status).toBe(404)
    })
  })
})
