import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createDb } from '#server/lib/db/client'
import { downloadTokenKey, signedDownloadUrl } from '#server/lib/exports/download-token'
import { createExportJob } from '#server/lib/exports/jobs/submit'
import { S3RVER_CREDENTIALS } from '#server/lib/local/s3rver'
import { DATASETS } from '#server/lib/warehouse/datasets'
import type { ExportJobDTO, ExportMetadata } from '#shared/types/exports'
import { TEST_BUCKET, type TestEnvironment } from '../helpers/environment'
import { attemptKey, objectKeys, recordedKey, sql, waitFor } from '../helpers/faults'
import { client } from '../helpers/http'
import { startFaultProxy, startRecordingProxy } from '../helpers/proxy'
import { parseCsv } from '../helpers/readers'
import type { ServerHandle } from '../helpers/server'
import { useServerSuite } from '../helpers/suite'

const [TRANSACTIONS, , MONTHLY] = DATASETS.map(d => d.id) as [string, string, string]

/**
 * Faults injected into real processes: workers are the built server (OUTPORT_ROLE=worker) spawned
 * and killed here, S3 sits behind a fault proxy, and PostgreSQL connections are terminated under
 * the workers' feet. One environment of its own, so no other test's worker takes these jobs.
 */
describe('fault injection', () => {
  const suite = useServerSuite({
    name: 'faults',
    users: 2,
    transactions: 20_000,
    seed: 13,
    faultProxy: true,
    env: { OUTPORT_ROLE: 'web', EXPORT_MAX_ACTIVE_PER_USER: '100' }
  })
  let http: ReturnType<typeof client>
  let alice: TestEnvironment['demo']['users'][0]
  const workers: ServerHandle[] = []

  beforeAll(() => {
    alice = suite.demo.users[0]!
    http = client(suite.url)
  })

  /** A worker process: 3 s leases so a dead worker's job is reclaimed quickly. */
  async function startWorker(name: string, env: Record<string, string> = {}): Promise<ServerHandle & { workDir: string }> {
    const workDir = join(suite.environment.dir, `work-${name}`)
    const worker = await suite.startServer({
      OUTPORT_ROLE: 'worker',
      S3_ENDPOINT: suite.proxy.endpoint,
      EXPORT_WORK_DIR: workDir,
      EXPORT_LEASE_SECONDS: '3',
      EXPORT_RETRY_BASE_MS: '1500',
      ...env
    }, { requireHealthy: false })
    workers.push(worker)
    return Object.assign(worker, { workDir })
  }

  async function stopAll() {
    await Promise.all(workers.splice(0).map(w => w.stop()))
  }
  // A test that failed or timed out must not leave workers that take the next test's jobs.
  afterEach(stopAll)

  const job = (id: string) => sql<{ status: string, attempts: number, locked_by: string | null, error: { code: string } | null }>(suite.environment, 'SELECT status, attempts, locked_by, error FROM jobs WHERE id = $1', [id]).then(r => r[0]!)
  const bigExport = { dataset_id: TRANSACTIONS, format: 'csv' }
  const phase = async (id: string) => (await http.getExport(alice.token, id)).progress?.phase

  it('a worker SIGKILLed mid-upload: another reclaims the job after the lease and completes it once', async () => {
    suite.proxy.uploadBytesPerSecond = 100_000
    const first = await startWorker('killed')
    const jobId = await http.createExport(alice.token, bigExport)
    await waitFor('the upload to start', async () => await phase(jobId) === 'uploading', 30_000)
    first.process.kill('SIGKILL')
    await new Promise(resolve => first.process.once('exit', resolve))
    suite.proxy.cutAll()
    suite.proxy.uploadBytesPerSecond = 0
    const killedAt = Date.now()
    expect(await job(jobId)).toMatchObject({ status: 'running', attempts: 1 })

    const second = await startWorker('rescuer')
    const done = await http.waitForExport(alice.token, jobId, 60_000)
    console.info(`killed worker's job completed ${Date.now() - killedAt} ms after the kill`)
    expect(done).toMatchObject({ status: 'completed', attempts: 2, error: null, row_count: 20_000 })
    // One object, whose bytes are what the job says.
    const key = await recordedKey(suite.environment, jobId)
    expect(key).toMatch(attemptKey(alice.user_id, jobId, 'csv'))
    expect(await objectKeys(suite.environment)).toEqual([key])
    const s3 = new S3Client({ endpoint: suite.environment.s3.endpoint, region: 'eu-west-2', forcePathStyle: true, credentials: S3RVER_CREDENTIALS })
    const body = await (await s3.send(new GetObjectCommand({ Bucket: TEST_BUCKET, Key: key }))).Body!.transformToByteArray()
    expect(createHash('sha256').update(body).digest('hex')).toBe(done.checksum_sha256)
    expect((await readdir(second.workDir)).filter(f => f !== 'duckdb-spill')).toEqual([])
    await stopAll()
  })

  it('a multi-part export whose worker is SIGKILLed after its first part: the retry makes one complete set, the ZIP and ?part=N download it', async () => {
    suite.proxy.uploadBytesPerSecond = 1_000_000
    const first = await startWorker('parts-killed')
    const jobId = await http.createExport(alice.token, { ...bigExport, compression: 'gzip', max_part_rows: 10_000 })
    const folder = new RegExp(`^exports/${alice.user_id}/${jobId}/([0-9a-f-]{36})/`)
    const killedPart = await waitFor('the first part to be stored', async () => (await objectKeys(suite.environment)).find(k => folder.test(k) && k.endsWith('/part-0001.csv.gz')), 30_000, 20)
    first.process.kill('SIGKILL')
    await new Promise(resolve => first.process.once('exit', resolve))
    suite.proxy.cutAll()
    suite.proxy.uploadBytesPerSecond = 0
    // No manifest: the killed attempt's set is not complete, and nothing lists it.
    expect((await objectKeys(suite.environment)).filter(k => folder.test(k) && k.endsWith('manifest.json'))).toEqual([])
    expect((await http.getExport(alice.token, jobId)).parts).toBeNull()

    await startWorker('parts-rescuer')
    const done = await http.waitForExport(alice.token, jobId, 60_000)
    expect(done).toMatchObject({ status: 'completed', attempts: 2, row_count: 20_000, max_part_rows: 10_000, download_url: null })
    expect(done.parts!.map(p => [p.index, p.rows])).toEqual([[1, 10_000], [2, 10_000]])
    // One set: the retry's parts and manifest; the killed attempt's part is gone.
    const manifestKey = await recordedKey(suite.environment, jobId)
    const claim = folder.exec(manifestKey)![1]
    expect(killedPart).not.toContain(claim)
    expect((await objectKeys(suite.environment)).filter(k => folder.test(k)).sort())
      .toEqual([`${claim}/manifest.json`, `${claim}/part-0001.csv.gz`, `${claim}/part-0002.csv.gz`].map(k => `exports/${alice.user_id}/${jobId}/${k}`))
    const manifest = await (await fetch(done.manifest_url!)).arrayBuffer()
    expect(createHash('sha256').update(Buffer.from(manifest)).digest('hex')).toBe(done.checksum_sha256)

    // ?part=N redirects to that part; a part it does not have is a 400 naming `part`.
    const part2 = await http.api(`/api/analytics/exports/${jobId}/download?part=2`, { token: alice.token })
    expect(part2.status).toBe(302)
    const bytes = Buffer.from(await (await fetch(part2.headers.get('location')!)).arrayBuffer())
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(done.parts![1]!.checksum_sha256)
    const bad = await http.api(`/api/analytics/exports/${jobId}/download?part=3`, { token: alice.token })
    expect(bad.status).toBe(400)
    expect((await bad.json()).data.errors[0].field).toBe('part')
    // Without `part`: one ZIP of both parts and the manifest, which Info-ZIP's unzip checks.
    const zip = await http.api(`/api/analytics/exports/${jobId}/download`, { token: alice.token })
    expect(zip.status).toBe(200)
    expect(zip.headers.get('content-type')).toBe('application/zip')
    expect(zip.headers.get('content-disposition')).toBe('attachment; filename="fct_transactions_all_dates.zip"')
    const zipPath = join(suite.environment.dir, `${jobId}.zip`)
    await writeFile(zipPath, Buffer.from(await zip.arrayBuffer()))
    const listing = execFileSync('unzip', ['-l', zipPath], { encoding: 'utf8' })
    for (const name of ['fct_transactions_all_dates_part-0001.csv.gz', 'fct_transactions_all_dates_part-0002.csv.gz', 'fct_transactions_all_dates_manifest.json']) expect(listing).toContain(name)
    expect(execFileSync('unzip', ['-t', zipPath], { encoding: 'utf8' })).toMatch(/No errors detected/)
    // The signed link that messages carry answers the same: the ZIP, or a part.
    const link = signedDownloadUrl(suite.url, downloadTokenKey(suite.env.NUXT_SESSION_PASSWORD!), jobId, new Date(Date.now() + 3600_000))
    const signedZip = await fetch(link, { redirect: 'manual' })
    expect(signedZip.status).toBe(200)
    expect(Buffer.from(await signedZip.arrayBuffer()).equals(await readFile(zipPath))).toBe(true)
    const signedPart = await fetch(`${link}&part=1`, { redirect: 'manual' })
    expect(signedPart.status).toBe(302)
    expect(createHash('sha256').update(Buffer.from(await (await fetch(signedPart.headers.get('location')!)).arrayBuffer())).digest('hex')).toBe(done.parts![0]!.checksum_sha256)
    expect((await fetch(`${link}&part=9`, { redirect: 'manual' })).status).toBe(404)
    await stopAll()
  })

  it('S3 down for the first attempt, then back: completed on attempt 2', async () => {
    suite.proxy.mode = 'down'
    await startWorker('retry', { EXPORT_MAX_ATTEMPTS: '3' })
    const jobId = await http.createExport(alice.token, { dataset_id: MONTHLY, format: 'parquet' })
    const failedOnce = await waitFor('the first attempt to fail', async () => {
      const row = await job(jobId)
      return row.status === 'pending' && row.attempts === 1 && row
    }, 30_000, 20)
    expect(failedOnce.error!.code).toBe('STORAGE_UNAVAILABLE')
    suite.proxy.mode = 'pass'
    const done = await http.waitForExport(alice.token, jobId, 30_000)
    expect(done).toMatchObject({ status: 'completed', attempts: 2, error: null })
    expect(await recordedKey(suite.environment, jobId)).toMatch(attemptKey(alice.user_id, jobId, 'parquet'))
    expect(await objectKeys(suite.environment)).toContain(await recordedKey(suite.environment, jobId))
    await stopAll()
  })

  it('S3 down throughout: failed after the max attempts, no object, no temp file', async () => {
    suite.proxy.mode = 'down'
    const worker = await startWorker('down', { EXPORT_MAX_ATTEMPTS: '3', EXPORT_RETRY_BASE_MS: '200' })
    const before = await objectKeys(suite.environment)
    const jobId = await http.createExport(alice.token, bigExport)
    const done = await http.waitForExport(alice.token, jobId, 60_000)
    expect(done).toMatchObject({ status: 'failed', attempts: 3, error: { code: 'STORAGE_UNAVAILABLE' }, download_url: null })
    expect(await objectKeys(suite.environment)).toEqual(before)
    expect((await readdir(worker.workDir)).filter(f => f !== 'duckdb-spill')).toEqual([])
    suite.proxy.mode = 'pass'
    await stopAll()
  })

  it('PostgreSQL connections terminated mid-run: the worker reconnects and the job finishes once', async () => {
    suite.proxy.uploadBytesPerSecond = 200_000
    await startWorker('pg')
    const jobId = await http.createExport(alice.token, bigExport)
    await waitFor('the upload to start', async () => await phase(jobId) === 'uploading', 30_000)
    // Every connection to the test database but this one: the workers' pool and listener, the API's.
    const terminated = await sql<{ n: number }>(suite.environment, `SELECT count(*)::int AS n FROM (
      SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()) t`)
    expect(terminated[0]!.n).toBeGreaterThan(1)
    const terminatedAt = new Date()
    suite.proxy.uploadBytesPerSecond = 0
    const done = await http.waitForExport(alice.token, jobId, 60_000)
    expect(done).toMatchObject({ status: 'completed', attempts: 1, error: null })
    // The listener came back: a new LISTEN session, opened after the terminations...
    await waitFor('the job listener to reconnect', async () => (await sql<{ n: number }>(suite.environment, `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND query LIKE 'LISTEN outport_jobs%' AND backend_start > $1`, [terminatedAt]))[0]!.n > 0, 10_000, 100)
    // ...that delivers: a new job is claimed in well under the 3 s sweep.
    const next = await http.createExport(alice.token, { dataset_id: MONTHLY, format: 'csv' })
    const [claimed] = await waitFor('the next job to be claimed', () => sql<{ pickup_ms: number }>(suite.environment,
      'SELECT extract(epoch FROM started_at - created_at) * 1000 AS pickup_ms FROM jobs WHERE id = $1 AND started_at IS NOT NULL', [next]).then(rows => rows.length > 0 && rows), 30_000, 50)
    expect(Number(claimed!.pickup_ms)).toBeLessThan(1000)
    expect((await http.waitForExport(alice.token, next, 30_000)).status).toBe('completed')
    await stopAll()
  })

  it('SIGTERM hands running jobs back at the shutdown deadline; another worker completes them', async () => {
    suite.proxy.uploadBytesPerSecond = 100_000
    const leaving = await startWorker('leaving', { EXPORT_SHUTDOWN_GRACE_SECONDS: '1' })
    const jobId = await http.createExport(alice.token, bigExport)
    await waitFor('the upload to start', async () => await phase(jobId) === 'uploading', 30_000)
    const signalled = Date.now()
    await leaving.stop()
    workers.splice(workers.indexOf(leaving), 1)
    console.info(`worker exited ${Date.now() - signalled} ms after SIGTERM`)
    expect(Date.now() - signalled).toBeLessThan(10_000)
    // Released, not failed: back in the queue and the interrupted attempt not counted.
    expect(await job(jobId)).toMatchObject({ status: 'pending', attempts: 0, locked_by: null })
    expect((await readdir(leaving.workDir)).filter(f => f !== 'duckdb-spill')).toEqual([])
    suite.proxy.uploadBytesPerSecond = 0
    await startWorker('after')
    expect(await http.waitForExport(alice.token, jobId, 60_000)).toMatchObject({ status: 'completed', attempts: 1 })
    await stopAll()
  })

  it('three worker processes take 300 jobs: each processed exactly once', async () => {
    const db = createDb(suite.environment.database.url, { max: 4 })
    const users = suite.environment.demo.users
    const ids: string[] = []
    try {
      await db.job.updateMany({ where: { status: { in: ['pending', 'running'] } }, data: { status: 'cancelled' } })
      for (let i = 0; i < 300; i++) {
        const dataset = DATASETS[i % 2 === 0 ? 2 : 1]!
        const user = users[i % users.length]!
        const metadata: ExportMetadata = {
          dataset_id: dataset.id, dataset_name: dataset.name, format: i % 3 === 0 ? 'parquet' : 'csv',
          filters: { start_date: '2026-01-01', end_date: null, account_ids: [], tag_ids: [] }
        }
        ids.push((await createExportJob(db, user.user_id, metadata)).id)
      }
    } finally {
      await db.$disconnect()
    }
    const started = Date.now()
    // A lease long enough for a starved machine: this test is about claiming, not reclaiming.
    await Promise.all(['a', 'b', 'c'].map(name => startWorker(`many-${name}`, { EXPORT_WORKER_CONCURRENCY: '3', EXPORT_LEASE_SECONDS: '20' })))
    await waitFor('300 jobs to finish', async () => {
      const [row] = await sql<{ n: number }>(suite.environment, 'SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status IN (\'completed\', \'failed\')', [ids])
      return row!.n === 300
    }, 240_000, 500)
    console.info(`300 jobs on 3 worker processes: ${Date.now() - started} ms`)
    const rows = await sql<{ status: string, attempts: number, key: string }>(suite.environment, 'SELECT status, attempts, metadata->>\'s3_key\' AS key FROM jobs WHERE id = ANY($1::uuid[])', [ids])
    expect(rows.filter(r => r.status !== 'completed')).toEqual([])
    // Claimed once each: a second claim would have counted a second attempt.
    expect(rows.filter(r => r.attempts !== 1)).toEqual([])
    const keys = new Set(await objectKeys(suite.environment))
    expect(rows.filter(r => !keys.has(r.key))).toEqual([])
    expect(new Set(rows.map(r => r.key)).size).toBe(300)
    await stopAll()
  }, 300_000)

  /** The one object of a finished job: its bytes are what the job reports (checksum and rows). */
  async function expectObjectMatches(jobId: string, done: ExportJobDTO) {
    const key = await recordedKey(suite.environment, jobId)
    expect(key).toMatch(attemptKey(alice.user_id, jobId, 'csv'))
    expect((await objectKeys(suite.environment)).filter(k => k.includes(jobId))).toEqual([key])
    const s3 = new S3Client({ endpoint: suite.environment.s3.endpoint, region: 'eu-west-2', forcePathStyle: true, credentials: S3RVER_CREDENTIALS })
    const body = await (await s3.send(new GetObjectCommand({ Bucket: TEST_BUCKET, Key: key }))).Body!.transformToByteArray()
    expect(createHash('sha256').update(body).digest('hex')).toBe(done.checksum_sha256)
    expect(parseCsv(new TextDecoder().decode(body)).rows.length).toBe(done.row_count)
  }

  it('a worker paused past its lease (SIGSTOP, then SIGCONT) cannot complete over the job another worker finished', async () => {
    suite.proxy.uploadBytesPerSecond = 100_000
    const paused = await startWorker('paused')
    const jobId = await http.createExport(alice.token, bigExport)
    await waitFor('the upload to start', async () => await phase(jobId) === 'uploading', 30_000)
    paused.process.kill('SIGSTOP')
    suite.proxy.uploadBytesPerSecond = 0
    try {
      await startWorker('winner')
      const done = await http.waitForExport(alice.token, jobId, 60_000)
      expect(done).toMatchObject({ status: 'completed', attempts: 2, error: null, row_count: 20_000 })
      paused.process.kill('SIGCONT')
      // The paused run wakes with its upload half done: give it time to try to finish it.
      await waitFor('the paused worker to notice it lost the job', async () => (await readdir(paused.workDir)).every(f => f === 'duckdb-spill'), 20_000, 100)
      await new Promise(resolve => setTimeout(resolve, 2000))
      expect(await http.getExport(alice.token, jobId)).toMatchObject({ status: 'completed', attempts: 2, checksum_sha256: done.checksum_sha256, row_count: 20_000 })
      await expectObjectMatches(jobId, done)
    } finally {
      paused.process.kill('SIGCONT')
      await stopAll()
    }
  })

  it('a PostgreSQL outage longer than the lease mid-export: the job completes once, and its file matches', async () => {
    const pg = await startFaultProxy(Number(new URL(suite.environment.database.url).port || 5432))
    const viaProxy = new URL(suite.environment.database.url)
    viaProxy.host = `127.0.0.1:${pg.port}`
    try {
      suite.proxy.uploadBytesPerSecond = 150_000
      const worker = await startWorker('outage', { DATABASE_URL: viaProxy.toString() })
      const jobId = await http.createExport(alice.token, bigExport)
      await waitFor('the upload to start', async () => await phase(jobId) === 'uploading', 30_000)
      pg.mode = 'down'
      pg.cutAll()
      // Three leases: the job's lease lapses while the run goes on uploading.
      await new Promise(resolve => setTimeout(resolve, 8000))
      pg.mode = 'pass'
      suite.proxy.uploadBytesPerSecond = 0
      const done = await http.waitForExport(alice.token, jobId, 60_000)
      expect(done).toMatchObject({ status: 'completed', error: null, row_count: 20_000 })
      // Whichever run finished (the first, if it got its claim back in time, or the reclaim), nothing
      // changed afterwards and the object is the one the job describes.
      await new Promise(resolve => setTimeout(resolve, 3000))
      expect(await http.getExport(alice.token, jobId)).toMatchObject({ status: 'completed', checksum_sha256: done.checksum_sha256 })
      await expectObjectMatches(jobId, done)
      expect((await readdir(worker.workDir)).filter(f => f !== 'duckdb-spill')).toEqual([])
    } finally {
      await stopAll()
      await pg.close()
    }
  })

  // The review's repro: the export's commit (a single PutObject here; multipart completions in
  // tests/integration/orphans.test.ts) is on the wire when the user deletes or cancels it. The
  // object lands after the API removed the job's objects; it must still be gone within a minute.
  it.each(['deleted', 'cancelled'] as const)('an export %s while its upload\'s commit is held leaves no object once the commit lands, for every compression', async (action) => {
    const hold = await startRecordingProxy(suite.environment.s3.port)
    try {
      await startWorker(`held-${action}`, { S3_ENDPOINT: hold.endpoint })
      for (const compression of ['none', 'gzip', 'zstd'] as const) {
        hold.holdCommits = true
        const jobId = await http.createExport(alice.token, { dataset_id: MONTHLY, format: 'csv', compression })
        await waitFor(`the ${compression} commit to be held`, async () => hold.held.some(request => request.includes(jobId)), 30_000, 20)
        const res = action === 'deleted'
          ? await http.api(`/api/analytics/exports/${jobId}`, { method: 'DELETE', token: alice.token })
          : await http.api(`/api/analytics/exports/${jobId}/cancel`, { method: 'POST', token: alice.token })
        expect(res.status).toBe(200)
        await hold.release()
        // The commit has been answered: its object exists unless its run removed it.
        await waitFor(`the late ${compression} object to be removed`, async () => (await objectKeys(suite.environment)).every(key => !key.includes(jobId)), 60_000, 100)
        expect((await job(jobId)).status).toBe(action)
      }
    } finally {
      await stopAll()
      await hold.close()
    }
  })

  it('the retention task runs through Nitro when a worker starts: an export past retention is expired and its file deleted', async () => {
    const s3 = new S3Client({ endpoint: suite.environment.s3.endpoint, region: 'eu-west-2', forcePathStyle: true, credentials: S3RVER_CREDENTIALS })
    const jobId = await http.createExport(alice.token, { dataset_id: MONTHLY, format: 'csv' })
    await startWorker('before-retention')
    const done = await http.waitForExport(alice.token, jobId, 30_000)
    expect(done.status).toBe('completed')
    await stopAll()
    const key = await recordedKey(suite.environment, jobId)
    expect(key).toMatch(attemptKey(alice.user_id, jobId, 'csv'))
    expect(await objectKeys(suite.environment)).toContain(key)
    await sql(suite.environment, 'UPDATE jobs SET completed_at = now() - interval \'25 hours\' WHERE id = $1', [jobId])
    await startWorker('retention')
    await waitFor('the job to expire', async () => (await http.getExport(alice.token, jobId)).status === 'expired', 30_000, 100)
    expect(await objectKeys(suite.environment)).not.toContain(key)
    await expect(s3.send(new GetObjectCommand({ Bucket: TEST_BUCKET, Key: key }))).rejects.toMatchObject({ name: 'NoSuchKey' })
    await stopAll()
  })
})
