/**
 * `npm run bench:events -- [latency] [streams] [export]` (all three without arguments): live export
 * status (GET /api/analytics/exports/events) against the built server, real PostgreSQL, DuckDB and
 * s3rver. Prints one table of figures with their targets; it asserts nothing.
 *
 *   latency  a progress write (an UPDATE of a held job's progress, as the worker makes it) → the
 *            event on each of EVENTS_LATENCY_STREAMS (10) open streams: p50 / p95 over
 *            EVENTS_WRITES (200) writes, idle and while a CSV export of EVENTS_LATENCY_ROWS (1M)
 *            rows runs. Timed from before the UPDATE is sent, so the figure includes its commit.
 *   streams  EVENTS_STREAMS (1,000) open streams from 10 users: the server's RSS before and after
 *            they open, and its CPU over EVENTS_IDLE_SECONDS (60, four heartbeats) idle with them
 *            open; then one change of a user with 100 streams, until all of them have it.
 *   export   a CSV export of EVENTS_EXPORT_ROWS (5M) rows alone and with EVENTS_EXPORT_STREAMS (500)
 *            open streams of the exporting user (500 open dialogs, round two's 500 req/s of
 *            polling replayed as streams): the export's slowdown, CPU by process, events received.
 *
 * The client side is one process of plain HTTP connections (node:http, one socket per stream);
 * 1,000 streams need 1,000 descriptors on each side (`ulimit -n`). BENCH_DIR, DUCKDB_*,
 * EXPORT_THREAD_NICE and EXPORT_WORKER_CONCURRENCY pass through as for `npm run bench`.
 */
import { readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { createDb } from '../server/lib/db/client'
import { seedDemo, type DemoOutput } from '../server/lib/demo-seed'
import { DATASETS } from '../server/lib/warehouse/datasets'
import type { TestDatabase } from '../tests/helpers/database'
import { client } from '../tests/helpers/http'
import { startServer, type ServerHandle } from '../tests/helpers/server'
import { meterCpu, postgresPids } from './cpu'
import { benchEnvironment, benchServerEnv } from './environment'
import { gitCommit, percentile, printTable, record } from './report'
import { openStream, type Stream } from './streams'

const CASES = new Set(process.argv.slice(2).filter(a => !a.startsWith('-')).length ? process.argv.slice(2) : ['latency', 'streams', 'export'])
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const BUCKET = 'outport-bench-events'
const DIR = process.env.BENCH_DIR ? join(process.env.BENCH_DIR, 'events') : join(process.cwd(), '.data', 'bench-events')
const TRANSACTIONS = DATASETS[0]!
const rowsLabel = (n: number) => n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`

interface Bench { database: TestDatabase, env: Record<string, string>, s3Pid: number }

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
}

async function withServer<T>(bench: Bench, name: string, users: number, transactions: number, run: (demo: DemoOutput, server: ServerHandle) => Promise<T>): Promise<T> {
  const warehouse = join(DIR, `${name}.duckdb`)
  const db = createDb(bench.database.url, { max: 2 })
  const demo = await seedDemo(db, warehouse, { users, transactions, seed: 1 })
  await db.$disconnect()
  const server = await startServer({ ...bench.env, WAREHOUSE_PATH: warehouse })
  try {
    return await run(demo, server)
  } finally {
    await server.stop()
    await rm(warehouse, { force: true })
  }
}

/** A queued job no worker takes (run_at an hour ahead): the bench writes its progress itself. */
async function heldJob(db: pg.Client, userId: string): Promise<string> {
  const { rows } = await db.query(`INSERT INTO jobs (user_id, type, status, metadata, progress, run_at, updated_at)
    VALUES ($1, 'EXPORT', 'running', $2, '{"phase":"queued","percent":0,"rows":null,"bytes_uploaded":null}', now() + interval '1 hour', now()) RETURNING id`,
  [userId, JSON.stringify({ dataset_id: TRANSACTIONS.id, dataset_name: TRANSACTIONS.name, format: 'csv', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] } })])
  return rows[0].id as string
}

/** Writes `count` progress values (rows = the write's number) and times each to its event on every stream. */
async function progressLatency(db: pg.Client, jobId: string, streams: Stream[], count: number, from: number): Promise<number[]> {
  const latencies: number[] = []
  for (let i = from; i < from + count; i++) {
    const sent = performance.now()
    await db.query('UPDATE jobs SET progress = $2, updated_at = now() WHERE id = $1', [jobId, JSON.stringify({ phase: 'querying', percent: i % 50, rows: i, bytes_uploaded: null })])
    const deadline = Date.now() + 10_000
    for (const stream of streams) {
      for (;;) {
        const event = stream.events.find(e => e.job.job_id === jobId && e.job.progress?.rows === i)
        if (event) {
          latencies.push(event.at - sent)
          break
        }
        if (Date.now() > deadline) throw new Error(`write ${i} did not arrive within 10 s`)
        await sleep(1)
      }
    }
    await sleep(50)
  }
  return latencies
}

async function latency(bench: Bench) {
  const writes = num('EVENTS_WRITES', 200)
  const rows = num('EVENTS_LATENCY_ROWS', 1_000_000)
  await withServer(bench, 'latency', 1, rows, async (demo, server) => {
    const user = demo.users[0]!
    const db = new pg.Client({ connectionString: bench.database.url })
    await db.connect()
    const jobId = await heldJob(db, user.user_id)
    const streams = Array.from({ length: num('EVENTS_LATENCY_STREAMS', 10) }, () => openStream(server.url, user.token))
    try {
      await Promise.all(streams.map(s => s.opened))
      const idle = await progressLatency(db, jobId, streams, writes, 0)
      record(`progress write → event on ${streams.length} streams, idle: p50 / p95`, `${percentile(idle, 0.5).toFixed(1)} / ${percentile(idle, 0.95).toFixed(1)} ms`, 'p95 ≤ 250 ms', percentile(idle, 0.95) <= 250)
      const api = client(server.url)
      const exporting = api.createExport(user.token, { dataset_id: TRANSACTIONS.id, format: 'csv' }).then(id => api.waitForExport(user.token, id, 900_000, 250))
      const loaded = await progressLatency(db, jobId, streams, writes, writes)
      const job = await exporting
      record(`progress write → event on ${streams.length} streams, during a ${rowsLabel(rows)}-row csv export: p50 / p95`, `${percentile(loaded, 0.5).toFixed(1)} / ${percentile(loaded, 0.95).toFixed(1)} ms (export ${job.status})`, 'p95 ≤ 250 ms', percentile(loaded, 0.95) <= 250)
    } finally {
      for (const s of streams) s.close()
      await db.end()
    }
  })
}

async function manyStreams(bench: Bench) {
  const count = num('EVENTS_STREAMS', 1000)
  const idleSeconds = num('EVENTS_IDLE_SECONDS', 60)
  await withServer(bench, 'streams', 10, 1000, async (demo, server) => {
    const pid = server.process.pid!
    // The process as a client meets it: one status read has loaded the routes and pools.
    await client(server.url).getExport(demo.users[0]!.token, '00000000-0000-4000-8000-000000000000').catch(() => {})
    await sleep(2000)
    const before = rssMb(pid)
    const streams = Array.from({ length: count }, (_, i) => openStream(server.url, demo.users[i % demo.users.length]!.token))
    const t0 = performance.now()
    await Promise.all(streams.map(s => s.opened))
    record(`${count} streams: time to open all`, `${((performance.now() - t0) / 1000).toFixed(2)} s`)
    try {
      await sleep(5000)
      const open = rssMb(pid)
      record(`${count} open streams: server RSS`, `+${(open - before).toFixed(0)} MB (${before.toFixed(0)} → ${open.toFixed(0)} MB)`, '≤ 100 MB', open - before <= 100)
      const cpu = meterCpu({ server: () => [String(pid)], postgres: postgresPids })
      await sleep(idleSeconds * 1000)
      const used = cpu.stop()
      record(`${count} open streams, idle ${idleSeconds} s: server CPU`, `${(used.server! * 100).toFixed(2)} % of a core (PostgreSQL ${(used.postgres! * 100).toFixed(2)} %)`, '≤ 5 % of a core', used.server! <= 0.05)
      const db = new pg.Client({ connectionString: bench.database.url })
      await db.connect()
      try {
        const user = demo.users[0]!
        const theirs = streams.filter((_, i) => i % demo.users.length === 0)
        const jobId = await heldJob(db, user.user_id)
        const fanout = await progressLatency(db, jobId, theirs, 20, 0)
        record(`one change → all ${theirs.length} streams of its user (of ${count} open): p50 / p95`, `${percentile(fanout, 0.5).toFixed(1)} / ${percentile(fanout, 0.95).toFixed(1)} ms`, 'p95 ≤ 250 ms', percentile(fanout, 0.95) <= 250)
      } finally {
        await db.end()
      }
    } finally {
      for (const s of streams) s.close()
    }
  })
}

async function exportWithStreams(bench: Bench) {
  const rows = num('EVENTS_EXPORT_ROWS', 5_000_000)
  const count = num('EVENTS_EXPORT_STREAMS', 500)
  await withServer(bench, 'export', 1, rows, async (demo, server) => {
    const api = client(server.url)
    const user = demo.users[0]!
    const pid = String(server.process.pid)
    // Warm-up: opens the warehouse and the pools.
    await api.waitForExport(user.token, await api.createExport(user.token, { dataset_id: DATASETS[2]!.id, format: 'csv' }))
    const run = async () => {
      const cpu = meterCpu({ server: () => [pid], http: () => [`${pid}/task/${pid}`], s3rver: () => [String(bench.s3Pid)], postgres: postgresPids, bench: () => [String(process.pid)] })
      const job = await api.waitForExport(user.token, await api.createExport(user.token, { dataset_id: TRANSACTIONS.id, format: 'csv' }), 900_000, 500)
      const used = cpu.stop()
      const seconds = (Date.parse(job.completed_at!) - Date.parse(job.created_at)) / 1000
      const cores = `HTTP thread ${used.http!.toFixed(2)}, rest of the server ${(used.server! - used.http!).toFixed(2)}, s3rver ${used.s3rver!.toFixed(2)}, PostgreSQL ${used.postgres!.toFixed(2)}, bench ${used.bench!.toFixed(2)}`
      return { seconds, cores, job }
    }
    const label = `${rowsLabel(rows)} csv export`
    const alone = await run()
    record(`${label} alone`, `${alone.seconds.toFixed(2)} s; CPU in cores: ${alone.cores}`)
    const streams = Array.from({ length: count }, () => openStream(server.url, user.token))
    try {
      await Promise.all(streams.map(s => s.opened))
      const loaded = await run()
      const slowdown = loaded.seconds / alone.seconds - 1
      const received = streams.map(s => s.events.filter(e => e.job.job_id === loaded.job.job_id).length)
      record(`${label} + ${count} open streams: slowdown`, `${(slowdown * 100).toFixed(1)} % (${loaded.seconds.toFixed(2)} s against ${alone.seconds.toFixed(2)} s)`, '≤ 10 %', slowdown <= 0.1)
      record(`${label} + ${count} open streams: CPU in cores`, loaded.cores)
      record(`${label} + ${count} open streams: events per stream (min / max)`, `${Math.min(...received)} / ${Math.max(...received)}`)
    } finally {
      for (const s of streams) s.close()
    }
  })
}

async function main() {
  const environment = await benchEnvironment(DIR, BUCKET)
  const bench: Bench = { database: environment.database, env: benchServerEnv(environment, DIR, BUCKET), s3Pid: environment.s3.pid }
  try {
    if (CASES.has('latency')) await latency(bench)
    if (CASES.has('streams')) await manyStreams(bench)
    if (CASES.has('export')) await exportWithStreams(bench)
  } finally {
    await environment.s3.stop()
    await environment.database.drop()
    await rm(DIR, { recursive: true, force: true })
  }
  console.log(`\nOutport event-stream benchmark — ${new Date().toISOString()} — ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, commit ${gitCommit()}\n`)
  printTable()
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
