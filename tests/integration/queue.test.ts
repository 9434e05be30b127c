import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, type Db } from '#server/lib/db/client'
import { CANCEL_CHANNEL, cancelJob, claimJobs, claimOf, completeJob, failJob, failLostJobs, holdsClaim, releaseJobs, renewLease, reportProgress } from '#server/lib/exports/jobs/queue'
import { countByStatus } from '#server/lib/exports/jobs/stats'
import { createExportJob, IdempotencyConflictError, JobLimitError, submitExportJob } from '#server/lib/exports/jobs/submit'
import type { ExportMetadata } from '#shared/types/exports'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

const metadata: ExportMetadata = {
  dataset_id: 'f586dc33-1f30-43db-9a15-48d593239fae',
  dataset_name: 'fct_monthly_trends',
  format: 'csv',
  filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }
}

describe('job queue', () => {
  let database: TestDatabase
  let db: Db
  let userId: string

  beforeAll(async () => {
    database = await createTestDatabase()
    db = createDb(database.url, { max: 12 })
    userId = (await db.user.create({ data: { email: 'q@example.com', passwordHash: 'x', displayName: 'Q' } })).id
  })
  afterAll(async () => {
    await db?.$disconnect()
    await database?.drop()
  })

  it('8 concurrent claimers take 200 jobs: each exactly once, oldest first per claimer', async () => {
    await db.job.deleteMany()
    const created: string[] = []
    for (let i = 0; i < 200; i++) created.push((await createExportJob(db, userId, metadata)).id)

    const claimed: string[][] = Array.from({ length: 8 }, () => [])
    await Promise.all(claimed.map(async (mine, worker) => {
      for (;;) {
        const jobs = await claimJobs(db, `worker-${worker}`, 1 + (worker % 3), 60_000)
        if (!jobs.length) return
        for (const job of jobs) {
          mine.push(job.id)
          expect(await completeJob(db, job, { row_count: 1 }, { phase: 'finalizing', percent: 100, rows: 1, bytes_uploaded: 1 })).toBe(true)
        }
      }
    }))
    const all = claimed.flat()
    expect(all.length).toBe(200)
    expect(new Set(all).size).toBe(200)
    expect(new Set(all)).toEqual(new Set(created))
    // Work was actually shared: no single claimer took everything.
    expect(claimed.filter(c => c.length > 0).length).toBeGreaterThan(1)
    const jobs = await db.job.findMany()
    expect(jobs.every(j => j.status === 'completed' && j.attempts === 1 && j.lockedBy === null)).toBe(true)
  })

  it('counts jobs by status for the outport_jobs gauge', async () => {
    await db.job.deleteMany()
    expect(await countByStatus(db)).toEqual({})
    for (let i = 0; i < 3; i++) await createExportJob(db, userId, metadata)
    const [claimed] = await claimJobs(db, 'w', 1, 60_000)
    await completeJob(db, claimed!, { row_count: 1 }, { phase: 'finalizing', percent: 100, rows: 1, bytes_uploaded: 1 })
    await claimJobs(db, 'w', 1, 60_000)
    expect(await countByStatus(db)).toEqual({ pending: 1, running: 1, completed: 1 })
  })

  it('claims oldest first and skips jobs whose run_at is in the future', async () => {
    await db.job.deleteMany()
    const first = await createExportJob(db, userId, metadata)
    const later = await createExportJob(db, userId, metadata)
    await db.job.update({ where: { id: first.id }, data: { runAt: new Date(Date.now() + 60_000) } })
    const third = await createExportJob(db, userId, metadata)
    const jobs = await claimJobs(db, 'w', 5, 60_000)
    expect(jobs.map(j => j.id)).toEqual([later.id, third.id])
  })

  it('reclaims a running job whose lease expired, and the old worker can no longer write to it', async () => {
    await db.job.deleteMany()
    const job = await createExportJob(db, userId, metadata)
    const [claimed] = await claimJobs(db, 'dead-worker', 1, 50)
    expect(claimed!.id).toBe(job.id)
    expect(claimed!.reclaimed).toBe(false)
    expect(await claimJobs(db, 'other', 1, 60_000)).toEqual([])
    await new Promise(resolve => setTimeout(resolve, 100))
    const [reclaimed] = await claimJobs(db, 'other', 1, 60_000)
    expect(reclaimed!.id).toBe(job.id)
    expect(reclaimed!.attempts).toBe(2)
    // Told apart for outport_lease_reclaims_total (a reclaim is no pickup from the queue).
    expect(reclaimed!.reclaimed).toBe(true)
    expect(await renewLease(db, claimOf(claimed!), 60_000)).toBe(false)
    expect(await failJob(db, claimOf(claimed!), { code: 'INTERNAL_ERROR', message: 'late' })).toBe(false)
    expect(await completeJob(db, reclaimed!, { row_count: 3 }, { phase: 'finalizing', percent: 100, rows: 3, bytes_uploaded: 1 })).toBe(true)
    expect((await db.job.findUniqueOrThrow({ where: { id: job.id } })).status).toBe('completed')
  })

  it('fences every write by the claim, not the worker: the same worker reclaiming its own job cuts off its first run', async () => {
    await db.job.deleteMany()
    const job = await createExportJob(db, userId, metadata)
    const [first] = await claimJobs(db, 'w', 1, 50)
    await new Promise(resolve => setTimeout(resolve, 100))
    // The same worker id, as after a database outage longer than the lease.
    const [second] = await claimJobs(db, 'w', 1, 60_000)
    expect(second!.id).toBe(job.id)
    expect(second!.claimId).not.toBe(first!.claimId)
    const done = { phase: 'finalizing', percent: 100, rows: 1, bytes_uploaded: 1 } as const
    expect(await holdsClaim(db, claimOf(first!))).toBe(false)
    expect(await renewLease(db, claimOf(first!), 60_000)).toBe(false)
    expect(await reportProgress(db, claimOf(first!), { phase: 'uploading', percent: 60, rows: 1, bytes_uploaded: 1 })).toBe(false)
    expect(await completeJob(db, first!, { row_count: 999, checksum_sha256: 'stale' }, done)).toBe(false)
    expect(await failJob(db, claimOf(first!), { code: 'INTERNAL_ERROR', message: 'stale' })).toBe(false)
    expect(await releaseJobs(db, [claimOf(first!)])).toBe(0)
    expect(await holdsClaim(db, claimOf(second!))).toBe(true)
    expect(await completeJob(db, second!, { row_count: 1, checksum_sha256: 'winner' }, done)).toBe(true)
    const row = await db.job.findUniqueOrThrow({ where: { id: job.id } })
    expect(row).toMatchObject({ status: 'completed', attempts: 2, claimId: null, metadata: { row_count: 1, checksum_sha256: 'winner' } })
  })

  it('fails a job whose worker died on its last allowed attempt instead of reclaiming it (a crash loop ends)', async () => {
    await db.job.deleteMany()
    const job = await createExportJob(db, userId, metadata)
    for (let attempt = 1; attempt <= 3; attempt++) {
      // Each claimer "dies": its 50 ms lease lapses without a renewal.
      expect(await failLostJobs(db, 3)).toEqual([])
      const [claimed] = await claimJobs(db, `crashing-${attempt}`, 1, 50)
      expect(claimed).toMatchObject({ id: job.id, attempts: attempt })
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(await failLostJobs(db, 3)).toEqual([job.id])
    expect(await claimJobs(db, 'next', 1, 60_000)).toEqual([])
    const row = await db.job.findUniqueOrThrow({ where: { id: job.id } })
    expect(row).toMatchObject({ status: 'failed', attempts: 3, lockedBy: null, claimId: null, error: { code: 'WORKER_LOST' } })
    expect(row.completedAt).toBeInstanceOf(Date)
  })

  it('puts a job back with backoff on a retryable failure, and fails it for good otherwise', async () => {
    await db.job.deleteMany()
    const job = await createExportJob(db, userId, metadata)
    const [claimed] = await claimJobs(db, 'w', 1, 60_000)
    const retryAt = new Date(Date.now() + 60_000)
    expect(await failJob(db, claimOf(claimed!), { code: 'STORAGE_UNAVAILABLE', message: 'down' }, retryAt)).toBe(true)
    let row = await db.job.findUniqueOrThrow({ where: { id: job.id } })
    expect(row).toMatchObject({ status: 'pending', attempts: 1, error: { code: 'STORAGE_UNAVAILABLE', message: 'down' } })
    expect(await claimJobs(db, 'w', 1, 60_000)).toEqual([])
    await db.job.update({ where: { id: job.id }, data: { runAt: new Date() } })
    const [again] = await claimJobs(db, 'w', 1, 60_000)
    expect(await failJob(db, claimOf(again!), { code: 'QUERY_FAILED', message: 'bad' })).toBe(true)
    row = await db.job.findUniqueOrThrow({ where: { id: job.id } })
    expect(row).toMatchObject({ status: 'failed', attempts: 2, lockedBy: null })
    expect(row.completedAt).toBeInstanceOf(Date)
  })

  it('clears the last attempt\'s error when a retried job completes', async () => {
    await db.job.deleteMany()
    const job = await createExportJob(db, userId, metadata)
    const [first] = await claimJobs(db, 'w', 1, 60_000)
    await failJob(db, claimOf(first!), { code: 'STORAGE_UNAVAILABLE', message: 'down' }, new Date())
    const [again] = await claimJobs(db, 'w', 1, 60_000)
    expect(await completeJob(db, again!, { row_count: 1 }, { phase: 'finalizing', percent: 100, rows: 1, bytes_uploaded: 1 })).toBe(true)
    expect(await db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ status: 'completed', attempts: 2, error: null })
  })

  it('releases running jobs on shutdown without counting the interrupted attempt', async () => {
    await db.job.deleteMany()
    const job = await createExportJob(db, userId, metadata)
    const [claimed] = await claimJobs(db, 'w', 1, 60_000)
    expect(await releaseJobs(db, [claimOf(claimed!)])).toBe(1)
    expect(await db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ status: 'pending', attempts: 0, lockedBy: null })
  })

  const limits = { maxActivePerUser: 3, maxQueueDepth: 1000, source: 'manual' as const }
  const withFilters = (start: string): ExportMetadata => ({ ...metadata, filters: { ...metadata.filters, start_date: start } })

  it('lets exactly the limit through when 12 submissions race for one user', async () => {
    await db.job.deleteMany()
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => submitExportJob(db, userId, metadata, limits)))
    const created = results.filter(r => r.status === 'fulfilled')
    const refused = results.filter(r => r.status === 'rejected').map(r => (r as PromiseRejectedResult).reason)
    expect(created.length).toBe(3)
    expect(refused.length).toBe(9)
    expect(refused.every(e => e instanceof JobLimitError && e.code === 'TOO_MANY_ACTIVE')).toBe(true)
    expect(refused[0].message).toMatch(/limit is 3/)
    expect(await db.job.count()).toBe(3)
    // Finished jobs free a slot; running ones do not.
    const [running] = await claimJobs(db, 'w', 1, 60_000)
    await completeJob(db, running!, {}, { phase: 'finalizing', percent: 100, rows: 0, bytes_uploaded: 0 })
    await submitExportJob(db, userId, metadata, limits)
    await expect(submitExportJob(db, userId, metadata, limits)).rejects.toBeInstanceOf(JobLimitError)
  })

  it('refuses new jobs once the global queue is full', async () => {
    await db.job.deleteMany()
    const other = (await db.user.upsert({ where: { email: 'q2@example.com' }, update: {}, create: { email: 'q2@example.com', passwordHash: 'x', displayName: 'Q2' } })).id
    await submitExportJob(db, other, metadata, { maxActivePerUser: 10, maxQueueDepth: 2, source: 'manual' as const })
    await submitExportJob(db, other, metadata, { maxActivePerUser: 10, maxQueueDepth: 2, source: 'manual' as const })
    const error = await submitExportJob(db, userId, metadata, { maxActivePerUser: 10, maxQueueDepth: 2, source: 'manual' as const }).catch(e => e)
    expect(error).toBeInstanceOf(JobLimitError)
    expect(error.code).toBe('QUEUE_FULL')
    expect(await db.job.count({ where: { userId } })).toBe(0)
  })

  it('returns the same job for a repeated Idempotency-Key, refuses it with another body, and scopes keys per user', async () => {
    await db.job.deleteMany()
    const other = (await db.user.findUniqueOrThrow({ where: { email: 'q2@example.com' } })).id
    // Racing retries of one request create one job.
    const racing = await Promise.all(Array.from({ length: 6 }, () => submitExportJob(db, userId, metadata, { ...limits, idempotencyKey: 'key-1' })))
    expect(new Set(racing.map(r => r.job.id)).size).toBe(1)
    expect(racing.filter(r => !r.replayed).length).toBe(1)
    // Id order does not make a different request.
    const a = { ...metadata, filters: { ...metadata.filters, account_ids: ['b', 'a'] } }
    const b = { ...metadata, filters: { ...metadata.filters, account_ids: ['a', 'b'] } }
    const first = await submitExportJob(db, userId, a, { ...limits, idempotencyKey: 'key-2' })
    expect((await submitExportJob(db, userId, b, { ...limits, idempotencyKey: 'key-2' })).job.id).toBe(first.job.id)
    await expect(submitExportJob(db, userId, withFilters('2024-01-01'), { ...limits, idempotencyKey: 'key-1' })).rejects.toBeInstanceOf(IdempotencyConflictError)
    // A replay is answered even at the limit (it creates nothing).
    await submitExportJob(db, userId, withFilters('2024-02-01'), limits)
    expect((await submitExportJob(db, userId, metadata, { ...limits, idempotencyKey: 'key-1' })).replayed).toBe(true)
    const theirs = await submitExportJob(db, other, metadata, { ...limits, idempotencyKey: 'key-1' })
    expect(theirs.job.id).not.toBe(racing[0]!.job.id)
    // After 24 hours the key starts a new job.
    await db.job.update({ where: { id: racing[0]!.job.id }, data: { createdAt: new Date(Date.now() - 25 * 3600_000), status: 'completed' } })
    const fresh = await submitExportJob(db, userId, withFilters('2023-01-01'), { ...limits, idempotencyKey: 'key-1' })
    expect(fresh.replayed).toBe(false)
    expect(fresh.job.id).not.toBe(racing[0]!.job.id)
  })

  it('cancels a pending job at once, a running one with a notification to its worker, and refuses finished or foreign ones', async () => {
    await db.job.deleteMany()
    const listener = new pg.Client({ connectionString: database.url })
    await listener.connect()
    const notified: string[] = []
    listener.on('notification', m => notified.push(m.payload!))
    await listener.query(`LISTEN ${CANCEL_CHANNEL}`)
    try {
      const pending = await createExportJob(db, userId, metadata)
      expect(await cancelJob(db, userId, pending.id)).toEqual({ outcome: 'cancelled', previous: 'pending' })
      expect(await claimJobs(db, 'w', 5, 60_000)).toEqual([])

      const created = await createExportJob(db, userId, metadata)
      const [running] = await claimJobs(db, 'w', 1, 60_000)
      expect(running!.id).toBe(created.id)
      expect(await cancelJob(db, userId, created.id)).toEqual({ outcome: 'cancelled', previous: 'running' })
      const row = await db.job.findUniqueOrThrow({ where: { id: created.id } })
      expect(row).toMatchObject({ status: 'cancelled', lockedBy: null, claimId: null })
      expect(row.completedAt).toBeInstanceOf(Date)
      // The worker can no longer renew, report or complete it.
      expect(await renewLease(db, claimOf(running!), 60_000)).toBe(false)
      expect(await reportProgress(db, claimOf(running!), { phase: 'uploading', percent: 60, rows: 1, bytes_uploaded: 1 })).toBe(false)
      expect(await completeJob(db, running!, {}, { phase: 'finalizing', percent: 100, rows: 1, bytes_uploaded: 1 })).toBe(false)
      await expect.poll(() => notified).toContain(created.id)

      expect(await cancelJob(db, userId, created.id)).toEqual({ outcome: 'final', status: 'cancelled' })
      const other = (await db.user.findUniqueOrThrow({ where: { email: 'q2@example.com' } })).id
      const theirs = await createExportJob(db, other, metadata)
      expect(await cancelJob(db, userId, theirs.id)).toEqual({ outcome: 'not_found' })
      expect((await db.job.findUniqueOrThrow({ where: { id: theirs.id } })).status).toBe('pending')
    } finally {
      await listener.end()
    }
  })

  it('a cancel racing a claim ends cancelled either way, never running', async () => {
    await db.job.deleteMany()
    const jobs = await Promise.all(Array.from({ length: 30 }, () => createExportJob(db, userId, metadata)))
    await Promise.all([
      (async () => {
        for (;;) if (!(await claimJobs(db, 'w', 2, 60_000)).length) return
      })(),
      ...jobs.map(j => cancelJob(db, userId, j.id))
    ])
    const statuses = await db.job.findMany({ select: { status: true } })
    expect(statuses.every(s => s.status === 'cancelled')).toBe(true)
  })
})
