import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, type Db } from '../../server/lib/db/client'
import { claimJobs, completeJob, createExportJob, failJob, releaseJobs, renewLease } from '../../server/lib/jobs/queue'
import type { ExportMetadata } from '../../shared/types/exports'
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
          expect(await completeJob(db, job, `worker-${worker}`, { row_count: 1 }, { phase: 'finalizing', percent: 100, rows: 1, bytes_uploaded: 1 })).toBe(true)
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
    expect(await claimJobs(db, 'other', 1, 60_000)).toEqual([])
    await new Promise(resolve => setTimeout(resolve, 100))
    const [reclaimed] = await claimJobs(db, 'other', 1, 60_000)
    expect(reclaimed!.id).toBe(job.id)
    expect(reclaimed!.attempts).toBe(2)
    expect(await renewLease(db, job.id, 'dead-worker', 60_000)).toBe(false)
    expect(await failJob(db, job.id, 'dead-worker', { code: 'X', message: 'late' })).toBe(false)
    expect(await completeJob(db, reclaimed!, 'other', { row_count: 3 }, { phase: 'finalizing', percent: 100, rows: 3, bytes_uploaded: 1 })).toBe(true)
    expect((await db.job.findUniqueOrThrow({ where: { id: job.id } })).status).toBe('completed')
  })

  it('puts a job back with backoff on a retryable failure, and fails it for good otherwise', async () => {
    await db.job.deleteMany()
    const job = await createExportJob(db, userId, metadata)
    await claimJobs(db, 'w', 1, 60_000)
    const retryAt = new Date(Date.now() + 60_000)
    expect(await failJob(db, job.id, 'w', { code: 'STORAGE_UNAVAILABLE', message: 'down' }, retryAt)).toBe(true)
    let row = await db.job.findUniqueOrThrow({ where: { id: job.id } })
    expect(row).toMatchObject({ status: 'pending', attempts: 1, error: { code: 'STORAGE_UNAVAILABLE', message: 'down' } })
    expect(await claimJobs(db, 'w', 1, 60_000)).toEqual([])
    await db.job.update({ where: { id: job.id }, data: { runAt: new Date() } })
    await claimJobs(db, 'w', 1, 60_000)
    expect(await failJob(db, job.id, 'w', { code: 'QUERY_FAILED', message: 'bad' })).toBe(true)
    row = await db.job.findUniqueOrThrow({ where: { id: job.id } })
    expect(row).toMatchObject({ status: 'failed', attempts: 2, lockedBy: null })
    expect(row.completedAt).toBeInstanceOf(Date)
  })

  it('releases running jobs on shutdown without counting the interrupted attempt', async () => {
    await db.job.deleteMany()
    const job = await createExportJob(db, userId, metadata)
    await claimJobs(db, 'w', 1, 60_000)
    expect(await releaseJobs(db, 'w', [job.id])).toBe(1)
    expect(await db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ status: 'pending', attempts: 0, lockedBy: null })
  })
})
