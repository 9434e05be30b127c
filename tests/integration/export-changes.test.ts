import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, type Db } from '#server/lib/db/client'
import { announceJobChange, changesSince, CHANGES_CHANNEL, latestChange, parseChangeNotice, type ChangeNotice } from '#server/lib/exports/jobs/changes'
import { findExport } from '#server/lib/exports/jobs/history'
import { claimJobs, completeJob, renewLease, reportProgress, claimOf } from '#server/lib/exports/jobs/queue'
import { createExportJob } from '#server/lib/exports/jobs/submit'
import type { ExportMetadata } from '#shared/types/exports'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

const metadata: ExportMetadata = {
  dataset_id: 'f586dc33-1f30-43db-9a15-48d593239fae',
  dataset_name: 'fct_monthly_trends',
  format: 'csv',
  filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }
}

/**
 * The change feed under GET /api/analytics/exports/events, against PostgreSQL: the trigger numbers
 * each change the DTO shows per user and announces it with the row as it left it; lease renewals
 * are no change; a change kept elsewhere announces its job through announceJobChange().
 */
describe('export job changes', () => {
  let database: TestDatabase
  let db: Db
  let listener: pg.Client
  let userId: string
  let otherId: string
  const notices: ChangeNotice[] = []

  beforeAll(async () => {
    database = await createTestDatabase()
    db = createDb(database.url)
    userId = (await db.user.create({ data: { email: 'c@example.com', passwordHash: 'x', displayName: 'C' } })).id
    otherId = (await db.user.create({ data: { email: 'd@example.com', passwordHash: 'x', displayName: 'D' } })).id
    listener = new pg.Client({ connectionString: database.url })
    await listener.connect()
    listener.on('notification', (m) => {
      const notice = parseChangeNotice(m.payload)
      if (notice) notices.push(notice)
    })
    await listener.query(`LISTEN ${CHANGES_CHANNEL}`)
  })
  afterAll(async () => {
    await listener?.end()
    await db?.$disconnect()
    await database?.drop()
  })

  async function noticesFor(jobId: string, count: number): Promise<ChangeNotice[]> {
    const deadline = Date.now() + 5000
    for (;;) {
      const mine = notices.filter(n => n.jobId === jobId)
      if (mine.length >= count || Date.now() > deadline) return mine
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }

  it('numbers each change per user and announces it with the row as that change left it', async () => {
    const start = await latestChange(db, userId)
    const job = await createExportJob(db, userId, metadata)
    const [claimed] = await claimJobs(db, 'w', 1, 60_000)
    expect(claimed!.id).toBe(job.id)
    await reportProgress(db, claimOf(claimed!), { phase: 'querying', percent: 40, rows: 10, bytes_uploaded: null })
    await completeJob(db, claimed!, { row_count: 10 }, { phase: 'finalizing', percent: 100, rows: 10, bytes_uploaded: 5 })

    const seen = await noticesFor(job.id, 4)
    expect(seen.map(n => n.seq)).toEqual([start + 1, start + 2, start + 3, start + 4])
    expect(seen.map(n => n.job?.status)).toEqual(['pending', 'running', 'running', 'completed'])
    expect(seen[2]!.job!.progress?.percent).toBe(40)
    // The last notice's row is the row as it is now, dates as dates.
    const now = await findExport(db, job.id)
    expect(seen[3]!.job).toEqual(now)
    expect(seen[3]!.job!.completedAt).toBeInstanceOf(Date)
    expect(await latestChange(db, userId)).toBe(start + 4)
    // Another user's counter is their own.
    await createExportJob(db, otherId, metadata)
    expect(await latestChange(db, otherId)).toBe(1)
    await db.job.deleteMany({ where: { userId: otherId } })
  })

  it('a lease renewal is no change; announceJobChange() is one', async () => {
    const job = await createExportJob(db, userId, metadata)
    const [claimed] = await claimJobs(db, 'w', 1, 60_000)
    expect(claimed!.id).toBe(job.id)
    const before = await latestChange(db, userId)
    expect(await renewLease(db, claimOf(claimed!), 60_000)).toBe(true)
    expect(await latestChange(db, userId)).toBe(before)
    await announceJobChange(db, job.id)
    expect(await latestChange(db, userId)).toBe(before + 1)
    const [last] = (await noticesFor(job.id, 3)).slice(-1)
    expect(last!.seq).toBe(before + 1)
    // A resume after `before` gets the job, once, as it is.
    const missed = await changesSince(db, userId, before)
    expect(missed.map(c => [c.job.id, c.seq])).toEqual([[job.id, before + 1]])
  })

  it('a row too large for a notice is announced by its ids alone', async () => {
    const big = { ...metadata, filters: { ...metadata.filters, account_ids: Array.from({ length: 300 }, () => crypto.randomUUID()) } }
    const job = await createExportJob(db, userId, big)
    const [notice] = await noticesFor(job.id, 1)
    expect(notice!.job).toBeNull()
    expect(notice!.seq).toBe(await latestChange(db, userId))
  })
})
