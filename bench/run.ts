/**
 * `npm run bench [--quick]`: Outport's speed and memory against real PostgreSQL, DuckDB and s3rver.
 * Exports are compared with the floor (a bare DuckDB COPY of the same query plus a bare multipart
 * upload of the same bytes to the same server), measured in the same run. Prints one table of
 * figures with their targets; it asserts nothing.
 */
import { spawnSync } from 'node:child_process'
import { createReadStream, readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import autocannon from 'autocannon'
import pg from 'pg'
import { loadConfig } from '../server/lib/config'
import { createDb } from '../server/lib/db/client'
import { seedDemo, type DemoOutput } from '../server/lib/demo-seed'
import { copyStatement, exportQuery, projectionFor } from '../server/lib/exports/run'
import { createStorage, UNSIGNED_PARTS, type Storage } from '../server/lib/storage/s3'
import { DATASETS } from '../server/lib/warehouse/datasets'
import { openWarehouse } from '../server/lib/warehouse/duckdb'
import type { ExportJobDTO, ExportMetadata } from '../shared/types/exports'
import { EXPORT_FORMAT_IDS, EXPORT_FORMATS, fileExtension, type Compression, type ExportFormat } from '../shared/types/formats'
import { resolveExportOptions } from '../shared/types/exports'
import { isFinalStatus } from '../shared/types/jobs'
import { outputColumns } from '../server/lib/warehouse/query'
import { writeXlsx } from '../server/lib/exports/xlsx'
import { hydrated, launchBrowser, visit } from '../tests/helpers/browser'
import type { TestDatabase } from '../tests/helpers/database'
import { client } from '../tests/helpers/http'
import { startServer, type ServerHandle } from '../tests/helpers/server'
import { meterCpu, postgresPids } from './cpu'
import { openLoopPolling } from './open-loop'
import { openStream } from './streams'
import { gitCommit, median, percentile, printTable, record } from './report'
import { benchEnvironment, benchServerEnv } from './environment'

const quick = process.argv.includes('--quick')
// BENCH_SIZES=1000000,5000000 measures only those sizes (the formats' cases at 1M and 5M).
const SIZES = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(',').map(Number) : quick ? [1_000_000] : [1_000_000, 5_000_000, 10_000_000]
// Each format × compression it allows; Excel only where a sheet holds the rows.
// BENCH_CASES=csv,jsonl,parquet,csv:gzip measures only those; BENCH_EXTRAS names the other parts
// to run (pickup, polling, page, throughput, topology; default all but topology; `none` for none).
// The API during a 5M-row export runs whenever 5M is measured, the split topology after it.
const CASE_FILTER = process.env.BENCH_CASES?.split(',')
const EXTRAS = new Set(process.env.BENCH_EXTRAS === undefined ? ['pickup', 'polling', 'page', 'throughput'] : process.env.BENCH_EXTRAS.split(','))
const CASES: Array<{ format: ExportFormat, compression: Compression }> = EXPORT_FORMAT_IDS.flatMap(format =>
  EXPORT_FORMATS[format].compressions.map(compression => ({ format, compression })))
  .filter(c => !CASE_FILTER || CASE_FILTER.includes(c.compression === 'none' ? c.format : `${c.format}:${c.compression}`))
// Medians over repetitions: single runs on two shared cores vary by 10-20 %.
const REPS = Number(process.env.BENCH_REPS ?? (quick ? 1 : 2))
const BUCKET = 'outport-bench'
// BENCH_DIR=/dev/shm/outport-bench keeps the files (work files, s3rver's objects) off a noisy disk.
const DIR = process.env.BENCH_DIR ?? join(process.cwd(), '.data', 'bench')
const TRANSACTIONS = DATASETS[0]!
const MONTHLY = DATASETS[2]!

function rssMb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}

/** The server's own duration of a job: created_at → completed_at. */
const serverSeconds = (job: ExportJobDTO) => (Date.parse(job.completed_at!) - Date.parse(job.created_at)) / 1000

interface Bench {
  database: TestDatabase
  storage: Storage
  s3Pid: number
  /** The SDK's own client for the floor's upload: payloads signed, as the SDK does by default. */
  floorClient: S3Client
  env: Record<string, string>
  config: ReturnType<typeof loadConfig>
}

async function withWarehouse<T>(bench: Bench, name: string, users: number, transactions: number, run: (demo: DemoOutput, server: ServerHandle, warehouse: string) => Promise<T>): Promise<T> {
  const warehouse = join(DIR, `${name}.duckdb`)
  const db = createDb(bench.database.url, { max: 2 })
  const started = Date.now()
  const demo = await seedDemo(db, warehouse, { users, transactions, seed: 1 })
  await db.$disconnect()
  console.error(`Built ${name} (${users} × ${transactions.toLocaleString('en')} rows) in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const server = await startServer({ ...bench.env, WAREHOUSE_PATH: warehouse })
  try {
    // Warm-up: opens the warehouse, connects the pools.
    const api = client(server.url)
    await api.waitForExport(demo.users[0]!.token, await api.createExport(demo.users[0]!.token, { dataset_id: MONTHLY.id, format: 'csv' }))
    return await run(demo, server, warehouse)
  } finally {
    await server.stop()
    await rm(warehouse, { force: true })
  }
}

/** 1. and 3.: POST → completed against the floor, and the server's peak memory. */
async function exportsAt(bench: Bench, size: number, warehouse: string, demo: DemoOutput, server: ServerHandle, rates: Map<string, number>) {
  const user = demo.users[0]!
  const api = client(server.url)
  for (const { format, compression } of CASES) {
    const maxRows = EXPORT_FORMATS[format].maxRows
    if (maxRows !== null && size > maxRows) continue
    const label = `${(size / 1e6).toFixed(0)}M ${format}${compression === 'none' ? '' : ` ${compression}`}`
    const e2es: number[] = []
    const copies: number[] = []
    const uploads: number[] = []
    let peak = 0
    let job!: ExportJobDTO
    for (let rep = 0; rep < REPS; rep++) {
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMb(server.process.pid!))
      }, 50)
      const jobId = await api.createExport(user.token, { dataset_id: TRANSACTIONS.id, format, ...(compression !== 'none' && { compression }) })
      // Polled gently, as a client would; the figure is the server's own duration.
      job = await api.waitForExport(user.token, jobId, 900_000, 250)
      clearInterval(sampler)
      if (job.status !== 'completed') throw new Error(`${label}: export ${job.status}: ${JSON.stringify(job.error)}`)
      e2es.push(serverSeconds(job))

      // The floor, in this process: the same query through DuckDB's COPY, then a bare upload.
      // Excel's floor is its writer alone (DuckDB has no Excel COPY here).
      const metadata: ExportMetadata = { dataset_id: TRANSACTIONS.id, dataset_name: TRANSACTIONS.name, format, filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }, ...resolveExportOptions({ format, compression }) }
      const instance = await openWarehouse(warehouse, { memoryLimit: bench.config.DUCKDB_MEMORY_LIMIT, threads: bench.config.DUCKDB_THREADS, tempDirectory: join(DIR, 'floor-spill') })
      const connection = await instance.connect()
      const file = join(DIR, `floor.${fileExtension(format, compression)}`)
      const c0 = performance.now()
      const sql = exportQuery(TRANSACTIONS, user.user_id, metadata)
      if (EXPORT_FORMATS[format].writer === 'xlsx') await writeXlsx(connection, sql, outputColumns(TRANSACTIONS, projectionFor(metadata)), file, { sheetName: TRANSACTIONS.name })
      else await connection.run(copyStatement(sql, file, format, resolveExportOptions(metadata)))
      copies.push((performance.now() - c0) / 1000)
      connection.closeSync()
      instance.closeSync()
      const u0 = performance.now()
      await new Upload({ client: bench.floorClient, params: { Bucket: BUCKET, Key: `floor/${format}`, Body: createReadStream(file) }, partSize: 8 * 1024 * 1024, queueSize: 3 }).done()
      uploads.push((performance.now() - u0) / 1000)
      console.error(`    ${label} #${rep + 1}: end-to-end ${e2es.at(-1)!.toFixed(2)} s, COPY ${copies.at(-1)!.toFixed(2)} s + upload ${uploads.at(-1)!.toFixed(2)} s`)
      await rm(file)
    }
    const e2e = median(e2es)
    const floor = median(copies) + median(uploads)
    const ratio = e2e / floor
    rates.set(label, size / e2e)
    const mb = job.file_size_bytes! / 1024 / 1024
    record(`${label}: POST → completed${REPS > 1 ? ` (median of ${REPS})` : ''}`, `${e2e.toFixed(2)} s, ${(size / e2e / 1000).toFixed(0)}k rows/s, ${mb.toFixed(0)} MiB`)
    record(`${label}: floor (COPY + upload)`, `${floor.toFixed(2)} s (${median(copies).toFixed(2)} + ${median(uploads).toFixed(2)})`)
    // The upload overlaps the writer: text without compression should beat the sum by 15 % (by 5 %
    // at 4M-5M rows, issue 29's bar), and Parquet (a tenth of the bytes, so little upload to hide
    // the writer behind) match it.
    const textTarget = size >= 4_000_000 && size <= 5_000_000 ? 0.95 : 0.85
    const target = format === 'parquet' ? 1 : (format === 'csv' || format === 'jsonl') && compression === 'none' ? textTarget : 1.15
    record(`${label}: end-to-end ÷ floor`, ratio.toFixed(2), `≤ ${target.toFixed(2)}`, ratio <= target)
    const memoryTarget = size >= 5_000_000 || (format === 'xlsx' && size >= 1_000_000)
    record(`${label}: server peak RSS`, `${peak.toFixed(0)} MB`, memoryTarget ? '≤ 600 MB' : '', memoryTarget ? peak <= 600 : undefined)
  }
}

/** 4.: POST → running, from the server's own timestamps, on an idle worker. */
async function pickupLatency(bench: Bench, demo: DemoOutput, server: ServerHandle) {
  const api = client(server.url)
  const token = demo.users[0]!.token
  const count = quick ? 30 : 100
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const id = await api.createExport(token, { dataset_id: MONTHLY.id, format: 'csv' })
    ids.push(id)
    await api.waitForExport(token, id, 60_000, 20)
  }
  const db = new pg.Client({ connectionString: bench.database.url })
  await db.connect()
  const { rows } = await db.query<{ ms: number }>('SELECT extract(epoch FROM started_at - created_at) * 1000 AS ms FROM jobs WHERE id = ANY($1)', [ids])
  await db.end()
  const ms = rows.map(r => Number(r.ms))
  record(`pickup latency (${count} jobs): p50 / p95`, `${percentile(ms, 0.5).toFixed(0)} / ${percentile(ms, 0.95).toFixed(0)} ms`, 'p95 ≤ 50 ms', percentile(ms, 0.95) <= 50)
}

/**
 * 5.: the status endpoint under 64 concurrent pollers while exports run back to back (so one is
 * always running). Measured twice: closed loop (autocannon, each connection sends its next request
 * when the last is answered) for capacity; open loop (1,000 req/s on a fixed schedule) for the
 * latency a poller sees and for what that polling costs the export.
 */
async function pollingCost(demo: DemoOutput, server: ServerHandle, soloSeconds: number) {
  const api = client(server.url)
  const user = demo.users[0]!
  // A completed job: the most expensive status read (it presigns a URL every time).
  const polled = await api.waitForExport(user.token, await api.createExport(user.token, { dataset_id: MONTHLY.id, format: 'csv' }))
  const url = `${server.url}/api/analytics/exports/${polled.job_id}`
  const headers = { authorization: `Bearer ${user.token}` }
  const duration = quick ? 10 : 20

  // The endpoint's own cost, for comparison: the same load with no export running.
  const idle = await autocannon({ url, connections: 64, duration, headers })
  record(`status polling capacity, 64 connections × ${duration} s, idle`, `${idle.requests.average.toFixed(0)} req/s, p50 ${idle.latency.p50} / p99 ${idle.latency.p99} ms`)
  const capacity = await whileExporting(api, user.token, () => autocannon({ url, connections: 64, duration, headers }))
  const errors = capacity.result.non2xx + capacity.result.errors
  record(`status polling capacity, 64 connections × ${duration} s, export running`, `${capacity.result.requests.average.toFixed(0)} req/s, p50 ${capacity.result.latency.p50} / p99 ${capacity.result.latency.p99} ms${errors ? ` (${errors} errors)` : ''}`, '≥ 1,000 req/s', capacity.result.requests.average >= 1000 && errors === 0)

  const paced = await whileExporting(api, user.token, () => openLoopPolling(url, headers, { pollers: 64, rate: 1000, seconds: duration }))
  record('status polling at 1,000 req/s from 64 pollers: latency p50 / p99', `${paced.result.p50.toFixed(0)} / ${paced.result.p99.toFixed(0)} ms${paced.result.errors ? ` (${paced.result.errors} errors)` : ''}`, 'p99 ≤ 50 ms', paced.result.p99 <= 50 && paced.result.errors === 0)
  const slowdown = median(paced.exports) / soloSeconds - 1
  record('1M csv export while polled at 1,000 req/s: slowdown', `${(slowdown * 100).toFixed(0)} % (median ${median(paced.exports).toFixed(2)} s of ${paced.exports.length})`, '≤ 20 %', slowdown <= 0.2)
}

/**
 * 2. of the performance issue: the HTTP process while one CSV export of the whole warehouse runs,
 * alone and under 64 open-loop pollers at 500 and 1,000 req/s (the load lasts as long as the
 * export). Event-loop delay is the server's own (`outport_event_loop_delay_seconds`, reset at each
 * scrape, so one scrape before and one after bracket the export). Returns the export's time alone.
 */
async function apiDuringExport(bench: Bench, demo: DemoOutput, server: ServerHandle, size: number): Promise<number> {
  const label = `${(size / 1e6).toFixed(0)}M csv`
  const measure = await pollsDuringExport(bench, demo, { web: server, worker: server })
  const alone = await measure(0)
  record(`${label} export alone: event-loop delay p99 / max of the HTTP process`, `${alone.loop.p99.toFixed(1)} / ${alone.loop.max.toFixed(0)} ms (export ${alone.seconds.toFixed(2)} s)`, '≤ 20 ms', alone.loop.p99 <= 20)
  record(`${label} export alone: CPU in cores`, alone.cores)
  for (const rate of [500, 1000]) {
    const loaded = await measure(rate)
    const polling = loaded.polling!
    const slowdown = loaded.seconds / alone.seconds - 1
    const target = rate === 500
    record(`${label} export + status polls at ${rate} req/s: event-loop delay p99 / max`, `${loaded.loop.p99.toFixed(1)} / ${loaded.loop.max.toFixed(0)} ms`, target ? '≤ 20 ms' : '', target ? loaded.loop.p99 <= 20 : undefined)
    record(`${label} export + status polls at ${rate} req/s: status p50 / p99`, `${polling.p50.toFixed(0)} / ${polling.p99.toFixed(0)} ms (${polling.perSecond.toFixed(0)} req/s${polling.errors ? `, ${polling.errors} errors` : ''})`, target ? 'p99 ≤ 100 ms' : '', target ? polling.p99 <= 100 && polling.errors === 0 : undefined)
    record(`${label} export + status polls at ${rate} req/s: export slowdown`, `${(slowdown * 100).toFixed(0)} % (${loaded.seconds.toFixed(2)} s)`, target ? '≤ 25 %' : '', target ? slowdown <= 0.25 : undefined)
    record(`${label} export + status polls at ${rate} req/s: CPU in cores`, loaded.cores)
  }
  return alone.seconds
}

/**
 * Measures one CSV export of the whole warehouse under `rate` status reads/s (0: none) against
 * `web`, with the exports claimed by `worker` (the same server when they are one process): the
 * export's time, the web process's event-loop delay and polling latency, and CPU by process.
 */
async function pollsDuringExport(bench: Bench, demo: DemoOutput, servers: { web: ServerHandle, worker: ServerHandle }) {
  const api = client(servers.web.url)
  const user = demo.users[0]!
  const polled = await api.waitForExport(user.token, await api.createExport(user.token, { dataset_id: MONTHLY.id, format: 'csv' }))
  const url = `${servers.web.url}/api/analytics/exports/${polled.job_id}`
  const headers = { authorization: `Bearer ${user.token}` }
  const web = String(servers.web.process.pid)
  const worker = String(servers.worker.process.pid)
  return async (rate: number) => {
    await loopDelay(bench, servers.web)
    const cpu = meterCpu({
      ...(web === worker ? { server: () => [web] } : { 'web process': () => [web], 'worker process': () => [worker] }),
      'HTTP thread': () => [`${web}/task/${web}`],
      's3rver': () => [String(bench.s3Pid)],
      'PostgreSQL': postgresPids,
      'load generator': () => [String(process.pid)]
    })
    const stop = new AbortController()
    const polling = rate ? openLoopPolling(url, headers, { pollers: 64, rate, seconds: 3600, signal: stop.signal }) : undefined
    const job = await api.waitForExport(user.token, await api.createExport(user.token, { dataset_id: TRANSACTIONS.id, format: 'csv' }), 900_000, 250)
    stop.abort()
    const cores = Object.entries(cpu.stop()).map(([name, used]) => `${name} ${used.toFixed(2)}`).join(', ')
    return { seconds: serverSeconds(job), loop: await loopDelay(bench, servers.web), polling: await polling, cores }
  }
}

/**
 * 4. of round three: the topology the README recommends — a web process (OUTPORT_ROLE=web) and a
 * worker process (OUTPORT_ROLE=worker) pinned to different cores with `taskset` (every thread,
 * DuckDB's included) — under the same 500 req/s of status reads during one CSV export of the
 * whole warehouse, twice: with s3rver, PostgreSQL and the load generator unpinned (on both cores,
 * as round two ran them), then with them on the worker's core, as when they are elsewhere (S3,
 * the database and the clients are other hosts in production) and the web process has its core
 * to itself. Their affinity is given back at the end. The single process (`combined`, measured
 * just before with the export alone) is stopped first so it claims nothing.
 */
async function splitTopology(bench: Bench, demo: DemoOutput, warehouse: string, combined: { server: ServerHandle, alone: number }, size: number) {
  await combined.server.stop()
  const env = { ...bench.env, WAREHOUSE_PATH: warehouse }
  const web = await startServer({ ...env, OUTPORT_ROLE: 'web' })
  const worker = await startServer({ ...env, OUTPORT_ROLE: 'worker' })
  const others = () => [String(bench.s3Pid), ...postgresPids(), String(process.pid)]
  try {
    pin(String(web.process.pid), '0')
    pin(String(worker.process.pid), '1')
    const measure = await pollsDuringExport(bench, demo, { web, worker })
    for (const placement of ['others unpinned', 'others on core 1'] as const) {
      if (placement === 'others on core 1') for (const pid of others()) pin(pid, '1')
      const label = `${(size / 1e6).toFixed(0)}M csv, web on core 0 + worker on core 1, ${placement}`
      const alone = await measure(0)
      record(`${label}: export alone`, `${alone.seconds.toFixed(2)} s (one process, both cores: ${combined.alone.toFixed(2)} s)`)
      record(`${label}: export alone, CPU in cores`, alone.cores)
      const loaded = await measure(500)
      const polling = loaded.polling!
      const slowdown = loaded.seconds / alone.seconds - 1
      record(`${label} + status polls at 500 req/s: status p50 / p99`, `${polling.p50.toFixed(0)} / ${polling.p99.toFixed(0)} ms (${polling.perSecond.toFixed(0)} req/s${polling.errors ? `, ${polling.errors} errors` : ''})`, 'p99 ≤ 100 ms', polling.p99 <= 100 && polling.errors === 0)
      record(`${label} + status polls at 500 req/s: event-loop delay p99 / max`, `${loaded.loop.p99.toFixed(1)} / ${loaded.loop.max.toFixed(0)} ms`)
      record(`${label} + status polls at 500 req/s: export slowdown`, `${(slowdown * 100).toFixed(0)} % (${loaded.seconds.toFixed(2)} s; ${((loaded.seconds / combined.alone - 1) * 100).toFixed(0)} % against one process alone)`)
      record(`${label} + status polls at 500 req/s: CPU in cores`, loaded.cores)
    }
  } finally {
    // Every core of the machine: this process is pinned itself now, so its own count would be 1.
    for (const pid of others()) pin(pid, `0-${cpus().length - 1}`, false)
    await Promise.all([web.stop(), worker.stop()])
  }
}

/** Pins a process (every thread of it) to `cores`; a process gone meanwhile is no failure unless `strict`. */
function pin(pid: string, cores: string, strict = true) {
  const pinned = spawnSync('taskset', ['-a', '-cp', cores, pid], { encoding: 'utf8' })
  if (pinned.status !== 0 && strict) throw new Error(`taskset ${cores} ${pid} failed: ${pinned.stderr}`)
}

/** The server's event-loop delay since the previous call: p99 and max, in ms. */
async function loopDelay(bench: Bench, server: ServerHandle): Promise<{ p99: number, max: number }> {
  const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${bench.env.METRICS_TOKEN}` } })
  const text = await response.text()
  const quantile = (q: string) => Number(new RegExp(`^outport_event_loop_delay_seconds\\{quantile="${q}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN) * 1000
  return { p99: quantile('0.99'), max: quantile('1') }
}

/** Runs `load` while 1M-row CSV exports run one after another; returns its result and their durations. */
async function whileExporting<T>(api: ReturnType<typeof client>, token: string, load: () => Promise<T>): Promise<{ result: T, exports: number[] }> {
  let loading = true
  const exports: number[] = []
  const exporter = (async () => {
    while (loading) {
      const job = await api.waitForExport(token, await api.createExport(token, { dataset_id: TRANSACTIONS.id, format: 'csv' }), 900_000, 250)
      // The export still running when the load stops ran partly unloaded: counted only if it is the only one.
      if (loading || exports.length === 0) exports.push(serverSeconds(job))
    }
  })()
  try {
    return { result: await load(), exports }
  } finally {
    loading = false
    await exporter
  }
}

/**
 * 6.: many queued exports from many users, drained with one worker slot and with the configured
 * number (EXPORT_WORKER_CONCURRENCY, default 2), each by a fresh server on the same warehouse and
 * under the same client load: each user keeps 3 exports in flight and follows them on one event
 * stream (THROUGHPUT_FOLLOW=poll: polls each every 100 ms instead, as round two's bench did — 300
 * status reads a second on the same two cores). THROUGHPUT_FORMATS (parquet; e.g.
 * parquet,csv,jsonl,xlsx), THROUGHPUT_JOBS (50, --quick 20) and THROUGHPUT_ROWS per user (1M,
 * --quick 100k; Excel is slow: 50 × 1M rows is about 25 minutes a drain) size it.
 */
async function throughput(bench: Bench) {
  const users = 10
  const perUser = Number(process.env.THROUGHPUT_ROWS ?? (quick ? 100_000 : 1_000_000))
  const jobs = Number(process.env.THROUGHPUT_JOBS ?? (quick ? 20 : 50))
  const formats = (process.env.THROUGHPUT_FORMATS ?? 'parquet').split(',') as ExportFormat[]
  const follow = process.env.THROUGHPUT_FOLLOW === 'poll' ? 'poll' : 'events'
  const slots = [...new Set([1, bench.config.EXPORT_WORKER_CONCURRENCY])]
  const warehouse = join(DIR, 'throughput.duckdb')
  const db = createDb(bench.database.url, { max: 2 })
  const demo = await seedDemo(db, warehouse, { users, transactions: perUser, seed: 1 })
  await db.$disconnect()
  const perUserJobs = Array.from({ length: users }, (_, i) => Math.floor(jobs / users) + (i < jobs % users ? 1 : 0))
  const label = (format: string) => `throughput: ${jobs} × ${perUser >= 1e6 ? `${perUser / 1e6}M` : `${perUser / 1e3}k`}-row ${format} from ${users} users (${follow === 'poll' ? 'polled every 100 ms' : 'followed by event streams'})`
  try {
    for (const format of formats) {
      const drains = new Map<number, number>()
      for (const concurrency of slots) {
        const server = await startServer({ ...bench.env, WAREHOUSE_PATH: warehouse, EXPORT_WORKER_CONCURRENCY: String(concurrency) })
        const api = client(server.url)
        const streams = follow === 'events' ? demo.users.map(u => openStream(server.url, u.token)) : []
        try {
          await Promise.all(streams.map(s => s.opened))
          // Warm-up: opens the warehouse and the pools.
          await api.waitForExport(demo.users[0]!.token, await api.createExport(demo.users[0]!.token, { dataset_id: MONTHLY.id, format: 'csv' }))
          const done = (token: string, id: string, i: number) => follow === 'poll'
            ? api.waitForExport(token, id, 900_000, 100)
            : streams[i]!.waitFor(job => job.job_id === id && isFinalStatus(job.status))
          const finished: ExportJobDTO[] = []
          const pid = String(server.process.pid)
          const cpu = meterCpu({ server: () => [pid], http: () => [`${pid}/task/${pid}`], s3rver: () => [String(bench.s3Pid)], postgres: postgresPids, bench: () => [String(process.pid)] })
          await Promise.all(demo.users.map(async (user, i) => {
            let submitted = 0
            const inFlight = new Set<Promise<void>>()
            while (submitted < perUserJobs[i]!) {
              while (inFlight.size < 3 && submitted < perUserJobs[i]!) {
                submitted++
                const p: Promise<void> = api.createExport(user.token, { dataset_id: TRANSACTIONS.id, format })
                  .then(id => done(user.token, id, i))
                  .then((job) => {
                    if (job.status !== 'completed') throw new Error(`throughput job ${job.status}`)
                    finished.push(job)
                  })
                  .finally(() => inFlight.delete(p))
                inFlight.add(p)
              }
              await Promise.race(inFlight)
            }
            await Promise.all(inFlight)
          }))
          const used = cpu.stop()
          // Server time from the first job's creation to the last one's completion.
          const drain = (Math.max(...finished.map(j => Date.parse(j.completed_at!))) - Math.min(...finished.map(j => Date.parse(j.created_at)))) / 1000
          drains.set(concurrency, drain)
          const run = finished.map(j => (Date.parse(j.completed_at!) - Date.parse(j.started_at!)) / 1000)
          const waits = finished.map(j => (Date.parse(j.started_at!) - Date.parse(j.created_at)) / 1000)
          record(`${label(format)}, ${concurrency} slot${concurrency > 1 ? 's' : ''}`, `${drain.toFixed(1)} s, ${(jobs / drain).toFixed(2)} jobs/s; one job p50 / p95 ${percentile(run, 0.5).toFixed(2)} / ${percentile(run, 0.95).toFixed(2)} s; longest queue wait ${Math.max(...waits).toFixed(1)} s`)
          record(`${label(format)}, ${concurrency} slot${concurrency > 1 ? 's' : ''}: CPU in cores`, `HTTP thread ${used.http!.toFixed(2)}, rest of the server ${(used.server! - used.http!).toFixed(2)}, s3rver ${used.s3rver!.toFixed(2)}, PostgreSQL ${used.postgres!.toFixed(2)}, bench ${used.bench!.toFixed(2)}`)
        } finally {
          for (const s of streams) s.close()
          await server.stop()
        }
      }
      const configured = bench.config.EXPORT_WORKER_CONCURRENCY
      if (configured > 1) {
        const ratio = drains.get(configured)! / drains.get(1)!
        record(`${label(format)}: drain with ${configured} slots ÷ with 1`, ratio.toFixed(2), format === 'parquet' ? '≤ 0.9' : '≤ 1.0', ratio <= (format === 'parquet' ? 0.9 : 1))
      }
    }
  } finally {
    await rm(warehouse, { force: true })
  }
}

/** 7.: the datasets page in Chromium on the built app: time to interactive and shipped JS. */
async function datasetsPage(demo: DemoOutput, server: ServerHandle) {
  const browser = await launchBrowser()
  try {
    const page = await browser.newPage()
    const user = demo.users[0]!
    await visit(page, `${server.url}/login`)
    await page.getByLabel('Email').fill(user.email)
    await page.getByLabel('Password').fill(user.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(/analytics\/datasets/)
    const scripts = new Map<string, Buffer>()
    page.on('response', async (response) => {
      if (response.request().resourceType() === 'script') scripts.set(response.url(), await response.body().catch(() => Buffer.alloc(0)))
    })
    const timings: number[] = []
    for (let i = 0; i < 5; i++) {
      await page.goto('about:blank')
      const t0 = performance.now()
      await page.goto(`${server.url}/analytics/datasets`)
      // Interactive: hydrated, and clicking an Export button opens the dialog.
      await hydrated(page)
      await page.getByRole('button', { name: 'Export Transactions' }).click()
      await page.getByTestId('export-form').waitFor()
      timings.push(performance.now() - t0)
    }
    const gzip = [...scripts.values()].reduce((sum, body) => sum + gzipSync(body).byteLength, 0) / 1024
    record('datasets page: time to interactive (median of 5)', `${median(timings).toFixed(0)} ms`)
    record('datasets page: JavaScript shipped (gzip)', `${gzip.toFixed(0)} KB in ${scripts.size} files`, '< 300 KB', gzip < 300)
  } finally {
    await browser.close()
  }
}

async function main() {
  const { database, s3 } = await benchEnvironment(DIR, BUCKET)
  const env = benchServerEnv({ database, s3 }, DIR, BUCKET)
  const config = loadConfig({ ...env, WAREHOUSE_PATH: 'unused' })
  const floorClient = createStorage(config).client
  floorClient.middlewareStack.remove(UNSIGNED_PARTS)
  const bench: Bench = { database, storage: createStorage(config), floorClient, s3Pid: s3.pid, env, config }
  const rates = new Map<string, number>()
  try {
    for (const size of SIZES) {
      await withWarehouse(bench, String(size), 1, size, async (demo, server, warehouse) => {
        await exportsAt(bench, size, warehouse, demo, server, rates)
        const alone = size === 5_000_000 ? await apiDuringExport(bench, demo, server, size) : undefined
        if (size === SIZES[0]) {
          if (EXTRAS.has('pickup')) await pickupLatency(bench, demo, server)
          if (EXTRAS.has('polling')) await pollingCost(demo, server, size / rates.get('1M csv')!)
          if (EXTRAS.has('page')) await datasetsPage(demo, server)
        }
        // Last: it stops the single-process server.
        if (alone && EXTRAS.has('topology')) await splitTopology(bench, demo, warehouse, { server, alone }, size)
      })
    }
    for (const format of ['csv', 'parquet'] as const) {
      if (rates.has(`10M ${format}`) && rates.has(`1M ${format}`)) {
        const ratio = rates.get(`10M ${format}`)! / rates.get(`1M ${format}`)!
        record(`scaling ${format}: rows/s at 10M ÷ at 1M`, ratio.toFixed(2), '≥ 0.9', ratio >= 0.9)
      }
    }
    if (EXTRAS.has('throughput')) await throughput(bench)
  } finally {
    await s3.stop()
    await database.drop()
    await rm(DIR, { recursive: true, force: true })
  }

  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  console.log(`\nOutport benchmark — ${new Date().toISOString()} — ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, commit ${gitCommit()}${quick ? ', --quick' : ''}`)
  console.log(`DuckDB memory_limit ${config.DUCKDB_MEMORY_LIMIT}, threads ${config.DUCKDB_THREADS ?? 'auto'}, worker concurrency ${config.EXPORT_WORKER_CONCURRENCY}\n`)
  printTable()
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
