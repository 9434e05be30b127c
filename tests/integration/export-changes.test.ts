import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, type Db } from '#server/lib/db/client'
import { announceJobChange, changesSince, CHANGES_CHANNEL, currentHorizon, parseChangeNotice, type ChangeNotice } from '#server/lib/exports/jobs/changes'
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
 * each change the DTO shows and announces it with the row as it left it and its horizon; lease
 * renewals are no change; a change kept elsewhere announces its job through announceJobChange();
 * what commits after a horizon is found from it; several users' jobs in one transaction, from two
 * transactions at once, do not deadlock.
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

  it('numbers each change and announces it with the row as that change left it', async () => {
    const job = await createExportJob(db, userId, metadata)
    const [claimed] = await claimJobs(db, 'w', 1, 60_000)
    expect(claimed!.id).toBe(job.id)
    await reportProgress(db, claimOf(claimed!), { phase: 'querying', percent: 40, rows: 10, bytes_uploaded: null })
    await completeJob(db, claimed!, { row_count: 10 }, { phase: 'finalizing', percent: 100, rows: 10, bytes_uploaded: 5 })

    const seen = await noticesFor(job.id, 4)
    expect(seen.map(n => n.job?.status)).toEqual(['pending', 'running', 'running', 'completed'])
    expect(seen.map(n => n.seq)).toEqual([...seen.map(n => n.seq)].sort((a, b) => a - b))
    expect(new Set(seen.map(n => n.seq)).size).toBe(4)
    expect(seen[2]!.job!.progress?.percent).toBe(40)
    // The last notice's row is the row as it is now, dates as dates.
    const now = await findExport(db, job.id)
    expect(seen[3]!.job).toEqual(now)
    expect(seen[3]!.job!.completedAt).toBeInstanceOf(Date)
  })

  it('a lease renewal is no change; announceJobChange() is one; what commits after a horizon is found from it', async () => {
    const job = await createExportJob(db, userId, metadata)
    const [claimed] = await claimJobs(db, 'w', 1, 60_000)
    expect(claimed!.id).toBe(job.id)
    const horizon = await currentHorizon(db)
    const before = (await noticesFor(job.id, 2)).length
    expect(await renewLease(db, claimOf(claimed!), 60_000)).toBe(true)
    await announceJobChange(db, job.id)
    const seen = await noticesFor(job.id, before + 1)
    expect(seen.length).toBe(before + 1)
    // A resume from the horizon gets the job, once, as it is; a horizon from later does not.
    const missed = await changesSince(db, userId, horizon, null, 0, 100)
    expect(missed.map(c => [c.job.id, c.seq])).toEqual([[job.id, seen.at(-1)!.seq]])
    expect(await changesSince(db, userId, await currentHorizon(db), null, 0, 100)).toEqual([])
  })

  it('a change that commits after a later one was announced is still found from that one\'s horizon', async () => {
    const [early, late] = await Promise.all([createExportJob(db, userId, metadata), createExportJob(db, userId, metadata)])
    // `slow` changes early first and commits last.
    const slow = new pg.Client({ connectionString: database.url })
    await slow.connect()
    try {
      await slow.query('BEGIN')
      await slow.query(`UPDATE jobs SET progress = '{"phase":"queued","percent":1,"rows":null,"bytes_uploaded":null}' WHERE id = $1`, [early.id])
      await db.$executeRaw`UPDATE jobs SET progress = '{"phase":"queued","percent":2,"rows":null,"bytes_uploaded":null}'::jsonb WHERE id = ${late.id}::uuid`
      const [announced] = (await noticesFor(late.id, 2)).slice(-1)
      await slow.query('COMMIT')
      const missed = await changesSince(db, userId, announced!.horizon, null, 0, 100)
      expect(missed.map(c => c.job.id)).toContain(early.id)
    } finally {
      await slow.end()
    }
  })

  it('two transactions changing several users\' jobs in opposite orders do not deadlock', async () => {
    const [a, b] = await Promise.all([createExportJob(db, userId, metadata), createExportJob(db, otherId, metadata)])
    const run = async (first: string, second: string) => db.$transaction(async (tx) => {
      await tx.$executeRaw`UPDATE jobs SET progress = '{"phase":"queued","percent":3,"rows":null,"bytes_uploaded":null}'::jsonb WHERE id = ${first}::uuid`
      await new Promise(resolve => setTimeout(resolve, 200))
      await tx.$executeRaw`UPDATE jobs SET attempts = attempts WHERE id = ${second}::uuid`
    })
    // Different rows in each transaction: only a lock the numbering took could make them wait on each other.
    const [c, d] = await Promise.all([createExportJob(db, userId, metadata), createExportJob(db, otherId, metadata)])
    await Promise.all([run(a.id, d.id), run(b.id, c.id)])
  })

  it('a row too large for a notice is announced without it', async () => {
    const big = { ...metadata, filters: { ...metadata.filters, account_ids: Array.from({ length: 300 }, () => crypto.randomUUID()) } }
    const job = await createExportJob(db, userId, big)
    const [notice] = await noticesFor(job.id, 1)
    expect(notice!.job).toBeNull()
    expect(notice!.seq).toBeGreaterThan(0)
  })
})
