/**
 * `npm run bench [--quick]`: end-to-end export speed and memory against real PostgreSQL, DuckDB and
 * s3rver, beside the floor (a bare DuckDB COPY of the same query plus a bare multipart upload of
 * the same bytes to the same server). Prints one table; figures, not assertions.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { loadConfig } from '../server/lib/config'
import { createDb } from '../server/lib/db/client'
import { seedDemo } from '../server/lib/demo-seed'
import { copyStatement, exportQuery } from '../server/lib/exports/run'
import { S3RVER_CREDENTIALS, startS3rver } from '../server/lib/local/s3rver'
import { createStorage, uploadFile } from '../server/lib/storage/s3'
import { DATASETS } from '../server/lib/warehouse/datasets'
import { openWarehouse } from '../server/lib/warehouse/duckdb'
import type { ExportFormat, ExportMetadata } from '../shared/types/exports'
import { createTestDatabase } from '../tests/helpers/database'
import { client } from '../tests/helpers/http'
import { freePort, startServer } from '../tests/helpers/server'

const quick = process.argv.includes('--quick')
// Medians over repetitions: single runs on two shared cores vary by 10-20 %.
const REPS = Number(process.env.BENCH_REPS ?? (quick ? 1 : 2))
const SIZES = quick ? [1_000_000] : [1_000_000, 5_000_000]
const FORMATS: ExportFormat[] = ['csv', 'parquet']
const BUCKET = 'outport-bench'
const DIR = join(process.cwd(), '.data', 'bench')
const TRANSACTIONS = DATASETS[0]!

interface Row { figure: string, value: string, target: string, verdict: string }
const table: Row[] = []

function record(figure: string, value: string, target = '', pass?: boolean) {
  table.push({ figure, value, target, verdict: pass === undefined ? '' : pass ? 'pass' : 'MISS' })
  console.error(`  ${figure}: ${value}${target ? ` (target ${target})` : ''}`)
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function rssMb(pid: number): number {
  try {
    const status = execFileSync('cat', [`/proc/${pid}/status`]).toString()
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}

async function main() {
  if (!existsSync('.output/server/index.mjs')) {
    console.error('Building the app (npm run build)...')
    execFileSync('node_modules/.bin/nuxt', ['build'], { stdio: 'inherit' })
  }
  await rm(DIR, { recursive: true, force: true })
  await mkdir(DIR, { recursive: true })
  const database = await createTestDatabase()
  const s3 = await startS3rver({ directory: join(DIR, 's3'), port: await freePort(), buckets: [BUCKET] })
  const env = {
    DATABASE_URL: database.url,
    S3_EXPORTS_BUCKET: BUCKET,
    S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    NUXT_SESSION_PASSWORD: 'bench-session-password-that-is-long-enough-0123456789',
    EXPORT_WORK_DIR: join(DIR, 'work'),
    ...(process.env.DUCKDB_MEMORY_LIMIT && { DUCKDB_MEMORY_LIMIT: process.env.DUCKDB_MEMORY_LIMIT }),
    ...(process.env.DUCKDB_THREADS && { DUCKDB_THREADS: process.env.DUCKDB_THREADS })
  }
  const config = loadConfig({ ...env, WAREHOUSE_PATH: 'unused' })
  const storage = createStorage(config)
  try {
    for (const size of SIZES) {
      const warehouse = join(DIR, `warehouse-${size}.duckdb`)
      const db = createDb(database.url, { max: 2 })
      const started = Date.now()
      const demo = await seedDemo(db, warehouse, { users: 1, transactions: size, seed: 1 })
      await db.$disconnect()
      console.error(`Built a ${size.toLocaleString('en')}-row warehouse in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      const user = demo.users[0]!
      const server = await startServer({ ...env, WAREHOUSE_PATH: warehouse })
      const api = client(server.url)
      try {
        // Warm-up: opens the warehouse, connects the pools.
        await api.waitForExport(user.token, await api.createExport(user.token, { dataset_id: DATASETS[2]!.id, format: 'csv' }))
        for (const format of FORMATS) {
          const label = `${(size / 1e6).toFixed(0)}M ${format}`
          const e2es: number[] = []
          const copies: number[] = []
          const uploads: number[] = []
          let peak = 0
          let job!: Awaited<ReturnType<typeof api.getExport>>
          for (let rep = 0; rep < REPS; rep++) {
            // End to end through the API, sampling the server's resident memory.
            const sampler = setInterval(() => {
              peak = Math.max(peak, rssMb(server.process.pid!))
            }, 50)
            const jobId = await api.createExport(user.token, { dataset_id: TRANSACTIONS.id, format })
            // Polled gently (a real client polls once a second); the time is the server's own,
            // created_at → completed_at, so the polling interval does not pad it.
            job = await api.waitForExport(user.token, jobId, 600_000, 250)
            clearInterval(sampler)
            if (job.status !== 'completed') throw new Error(`${label}: export ${job.status}: ${JSON.stringify(job.error)}`)
            e2es.push((Date.parse(job.completed_at!) - Date.parse(job.created_at)) / 1000)

            // The floor, in this process: the same query through DuckDB's COPY, then a bare upload.
            const metadata: ExportMetadata = { dataset_id: TRANSACTIONS.id, dataset_name: TRANSACTIONS.name, format, filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] } }
            const instance = await openWarehouse(warehouse, { memoryLimit: config.DUCKDB_MEMORY_LIMIT, threads: config.DUCKDB_THREADS, tempDirectory: join(DIR, 'floor-spill') })
            const connection = await instance.connect()
            const file = join(DIR, `floor.${format}`)
            const c0 = performance.now()
            await connection.run(copyStatement(exportQuery(TRANSACTIONS, user.user_id, metadata), file, format))
            copies.push((performance.now() - c0) / 1000)
            connection.closeSync()
            instance.closeSync()
            const u0 = performance.now()
            await uploadFile(storage, `floor/${format}`, file, { contentType: 'application/octet-stream', partSize: 8 * 1024 * 1024, queueSize: 3 })
            uploads.push((performance.now() - u0) / 1000)
            await rm(file)
          }
          const e2e = median(e2es)
          const copy = median(copies)
          const upload = median(uploads)
          const floor = copy + upload
          const ratio = e2e / floor

          const mb = job.file_size_bytes! / 1024 / 1024
          record(`${label}: POST → completed${REPS > 1 ? ` (median of ${REPS})` : ''}`, `${e2e.toFixed(2)} s, ${(size / e2e / 1000).toFixed(0)}k rows/s, ${mb.toFixed(0)} MiB`)
          record(`${label}: floor (COPY + upload)`, `${floor.toFixed(2)} s (${copy.toFixed(2)} + ${upload.toFixed(2)})`)
          record(`${label}: end-to-end ÷ floor`, ratio.toFixed(2), '≤ 1.25', ratio <= 1.25)
          record(`${label}: server peak RSS`, `${peak.toFixed(0)} MB`, size >= 5_000_000 && format === 'csv' ? '< 600 MB' : '', size >= 5_000_000 && format === 'csv' ? peak < 600 : undefined)
        }
        await pickupLatency(api, user.token, server.url, database.url)
      } finally {
        await server.stop()
      }
    }
  } finally {
    await s3.stop()
    await database.drop()
  }

  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  console.log(`\nOutport benchmark — ${new Date().toISOString()} — ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, commit ${gitCommit()}${quick ? ', --quick' : ''}`)
  console.log(`DuckDB memory_limit ${config.DUCKDB_MEMORY_LIMIT}, threads ${config.DUCKDB_THREADS ?? 'auto'}\n`)
  const widths = [Math.max(...table.map(r => r.figure.length), 6), Math.max(...table.map(r => r.value.length), 5), 9, 7]
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  console.log(line(['figure', 'value', 'target', 'result']))
  console.log(`|${widths.map(w => '-'.repeat(w + 2)).join('|')}|`)
  for (const r of table) console.log(line([r.figure, r.value, r.target, r.verdict]))
}

/** POST → running, from the server's own timestamps (created_at → started_at), idle worker. */
async function pickupLatency(api: ReturnType<typeof client>, token: string, _url: string, databaseUrl: string) {
  const ids: string[] = []
  for (let i = 0; i < 30; i++) {
    const id = await api.createExport(token, { dataset_id: DATASETS[2]!.id, format: 'csv' })
    ids.push(id)
    await api.waitForExport(token, id)
  }
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  const { rows } = await db.query<{ ms: number }>('SELECT extract(epoch FROM started_at - created_at) * 1000 AS ms FROM jobs WHERE id = ANY($1)', [ids])
  await db.end()
  const sorted = rows.map(r => Number(r.ms)).sort((a, b) => a - b)
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
  record('pickup latency (30 jobs): p50 / p95', `${pct(0.5).toFixed(0)} / ${pct(0.95).toFixed(0)} ms`, 'p95 ≤ 250 ms', pct(0.95) <= 250)
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD']).toString().trim()
  } catch {
    return 'unknown'
  }
}

main().catch(async (error) => {
  console.error(error)
  await sleep(10)
  process.exit(1)
})
