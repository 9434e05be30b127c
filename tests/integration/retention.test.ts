import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '#server/lib/config'
import { createDb, type Db } from '#server/lib/db/client'
import { expireExports, removeStaleWorkFiles } from '#server/lib/exports/retention'
import { deleteExport } from '#server/lib/exports/delete'
import { toExportDTO } from '#server/lib/exports/dto'
import { claimJobs, completeJob } from '#server/lib/exports/jobs/queue'
import { toExportJob } from '#server/lib/exports/jobs/record'
import { createExportJob } from '#server/lib/exports/jobs/submit'
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '#server/lib/local/s3rver'
import { createStorage, type Storage } from '#server/lib/storage/s3'
import type { ExportMetadata } from '#shared/types/exports'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { freePort } from '../helpers/server'

const metadata: ExportMetadata = {
  dataset_id: 'f586dc33-1f30-43db-9a15-48d593239fae',
  dataset_name: 'fct_monthly_trends',
  format: 'csv',
  filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }
}

describe('retention', () => {
  let dir: string
  let database: TestDatabase
  let db: Db
  let s3: S3rverHandle
  let storage: Storage
  let userId: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outport-retention-'))
    database = await createTestDatabase()
    db = createDb(database.url, { max: 4 })
    s3 = await startS3rver({ directory: join(dir, 's3'), port: await freePort(), buckets: ['retention-test'] })
    storage = createStorage(loadConfig({
      DATABASE_URL: database.url, S3_EXPORTS_BUCKET: 'retention-test', S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey
    }))
    userId = (await db.user.create({ data: { email: 'r@example.com', passwordHash: 'x', displayName: 'R' } })).id
  })
  afterAll(async () => {
    await db?.$disconnect()
    await database?.drop()
    await s3?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function completedExport(): Promise<{ id: string, key: string }> {
    const job = await createExportJob(db, userId, metadata)
    const [claimed] = await claimJobs(db, 'w', 1, 60_000)
    const key = `exports/${userId}/${job.id}.csv`
    await storage.client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: 'a,b\n1,2\n' }))
    await completeJob(db, claimed!, { s3_key: key, row_count: 1, file_size_bytes: 8 }, { phase: 'finalizing', percent: 100, rows: 1, bytes_uploaded: 8 })
    return { id: job.id, key }
  }

  const exists = (key: string) => storage.client.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: key })).then(() => true, () => false)

  it('deletes the objects of exports older than the retention period and marks them expired, with no URL', async () => {
    const old = await completedExport()
    const pending = await createExportJob(db, userId, metadata)
    // Never claimed here: it stands for a job still waiting.
    await db.job.update({ where: { id: pending.id }, data: { runAt: new Date(Date.now() + 3600_000) } })
    // Nothing is old enough yet.
    expect((await expireExports(db, storage, { retentionHours: 24 })).expired).toEqual([])
    expect(await exists(old.key)).toBe(true)

    const later = new Date(Date.now() + 25 * 3600_000)
    const young = await completedExport()
    await db.job.update({ where: { id: young.id }, data: { completedAt: new Date(Date.now() + 2 * 3600_000) } })
    const { expired } = await expireExports(db, storage, { retentionHours: 24, now: later, batchSize: 1 })
    expect(expired).toEqual([old.id])
    expect(await exists(old.key)).toBe(false)
    expect(await exists(young.key)).toBe(true)
    const row = await db.job.findUniqueOrThrow({ where: { id: old.id } })
    expect(row.status).toBe('expired')
    expect(await toExportDTO(toExportJob(row), storage, { EXPORT_URL_TTL_SECONDS: 3600, EXPORT_RETENTION_HOURS: 24 })).toMatchObject({ status: 'expired', download_url: null, expires_at: null })
    expect((await db.job.findUniqueOrThrow({ where: { id: pending.id } })).status).toBe('pending')
    // Running it again (another process's sweep) changes nothing.
    expect((await expireExports(db, storage, { retentionHours: 24, now: later })).expired).toEqual([])
  })

  it('leaves the job completed when its object cannot be deleted, and retries on the next sweep', async () => {
    const { id, key } = await completedExport()
    const later = new Date(Date.now() + 25 * 3600_000)
    const down = createStorage(loadConfig({
      DATABASE_URL: database.url, S3_EXPORTS_BUCKET: 'retention-test', S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER'
    }))
    const lines: string[] = []
    const result = await expireExports(db, down, { retentionHours: 24, now: later, log: l => lines.push(l) })
    expect(result).toEqual({ expired: [], failed: [id] })
    expect(lines.join()).toContain(key)
    expect((await db.job.findUniqueOrThrow({ where: { id } })).status).toBe('completed')
    expect((await expireExports(db, storage, { retentionHours: 24, now: later })).expired).toEqual([id])
    expect(await exists(key)).toBe(false)
  })

  it('leaves exports the user deleted alone: their file is gone already and they stay deleted', async () => {
    const { id, key } = await completedExport()
    const { job } = await deleteExport(db, storage, userId, id)
    expect(job).toMatchObject({ status: 'deleted' })
    expect(job.deletedAt).toBeInstanceOf(Date)
    expect(await exists(key)).toBe(false)
    const later = new Date(Date.now() + 25 * 3600_000)
    expect((await expireExports(db, storage, { retentionHours: 24, now: later })).expired).not.toContain(id)
    expect((await db.job.findUniqueOrThrow({ where: { id } })).status).toBe('deleted')
    // Another user's, or an unknown id: refused as not found, nothing changed.
    await expect(deleteExport(db, storage, '00000000-0000-4000-8000-000000000000', id)).rejects.toMatchObject({ statusCode: 404 })
    await expect(deleteExport(db, storage, userId, 'nope')).rejects.toMatchObject({ statusCode: 404 })
  })

  /** A completed multi-part export: three parts and the manifest under the attempt's folder. */
  async function completedPartedExport(): Promise<{ id: string, keys: string[] }> {
    const job = await createExportJob(db, userId, { ...metadata, max_part_rows: 10_000 })
    const [claimed] = await claimJobs(db, 'w', 1, 60_000)
    const folder = `exports/${userId}/${job.id}/${claimed!.claimId}`
    const parts = [1, 2, 3].map(i => ({ key: `${folder}/part-000${i}.csv`, filename: `fct_monthly_trends_all_dates_part-000${i}.csv`, rows: 1, bytes: 8, checksum_sha256: 'x'.repeat(64) }))
    const manifest = `${folder}/manifest.json`
    for (const key of [...parts.map(p => p.key), manifest]) await storage.client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: 'a,b\n1,2\n' }))
    await completeJob(db, claimed!, { s3_key: manifest, row_count: 3, file_size_bytes: 24, parts }, { phase: 'finalizing', percent: 100, rows: 3, bytes_uploaded: 24 })
    return { id: job.id, keys: [...parts.map(p => p.key), manifest] }
  }

  it('a multi-part export: its DTO lists the parts with fresh links, and retention removes every part and the manifest', async () => {
    const { id, keys } = await completedPartedExport()
    const dto = await toExportDTO(toExportJob(await db.job.findUniqueOrThrow({ where: { id } })), storage, { EXPORT_URL_TTL_SECONDS: 3600, EXPORT_RETENTION_HOURS: 24 })
    expect(dto.download_url).toBeNull()
    expect(dto.max_part_rows).toBe(10_000)
    expect(dto.manifest_url).toContain('manifest.json')
    expect(dto.parts?.map(p => [p.index, p.filename])).toEqual([1, 2, 3].map(i => [i, `fct_monthly_trends_all_dates_part-000${i}.csv`]))
    for (const part of dto.parts!) expect(await fetch(part.download_url!).then(r => r.text())).toBe('a,b\n1,2\n')
    const { expired } = await expireExports(db, storage, { retentionHours: 24, now: new Date(Date.now() + 25 * 3600_000) })
    expect(expired).toContain(id)
    for (const key of keys) expect(await exists(key)).toBe(false)
  })

  it('deleting a multi-part export removes every part and the manifest', async () => {
    const { id, keys } = await completedPartedExport()
    await deleteExport(db, storage, userId, id)
    for (const key of keys) expect(await exists(key)).toBe(false)
  })

  it('removes work files older than the limit, including stale spill files, and keeps fresh ones', async () => {
    const work = join(dir, 'work')
    await mkdir(join(work, 'duckdb-spill'), { recursive: true })
    for (const name of ['old.csv', 'fresh.parquet', 'duckdb-spill/old.tmp']) await writeFile(join(work, name), 'x')
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000)
    await utimes(join(work, 'old.csv'), twoHoursAgo, twoHoursAgo)
    await utimes(join(work, 'duckdb-spill/old.tmp'), twoHoursAgo, twoHoursAgo)
    expect((await removeStaleWorkFiles(work, 3600_000)).sort()).toEqual(['duckdb-spill/old.tmp', 'old.csv'])
    expect((await readdir(work)).sort()).toEqual(['duckdb-spill', 'fresh.parquet'])
    expect(await removeStaleWorkFiles(join(dir, 'missing'), 3600_000)).toEqual([])
  })
})
