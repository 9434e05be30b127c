/**
 * `npm run bench:memory`: the built server's peak resident memory for every format × compression
 * at 5M rows (Excel at its 1,048,575-row sheet limit), then two 5M-row exports at once, each beside
 * the 600 MB target, and where the memory is at the peak: the HTTP thread's V8 heap, memory outside
 * it (Buffers), DuckDB's own count, and the rest (the upload thread's heap, DuckDB beyond its
 * count, code). `BENCH_ROWS` (5000000), `BENCH_CASES` (csv,parquet,json:zstd,…), `BENCH_PAIRS`
 * (csv+parquet,…), `BENCH_ONE_SERVER=1` (every case on one server, in turn), `BENCH_IDLE_SECONDS` (1: idle before each case); DUCKDB_*, EXPORT_* and NODE_OPTIONS pass through to the server as in `npm run bench`.
 */
import { readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createDb } from '../server/lib/db/client'
import { seedDemo } from '../server/lib/demo-seed'
import { DATASETS } from '../server/lib/warehouse/datasets'
import { EXPORT_FORMAT_IDS, EXPORT_FORMATS, type Compression, type ExportFormat } from '../shared/types/formats'
import type { ExportJobDTO } from '../shared/types/exports'
import { client } from '../tests/helpers/http'
import { startServer, type ServerHandle } from '../tests/helpers/server'
import { parsePrometheus, sampleValue } from '../tests/helpers/prometheus'
import { benchEnvironment, benchServerEnv } from './environment'
import { gitCommit, printTable, record } from './report'

const ROWS = Number(process.env.BENCH_ROWS ?? 5_000_000)
const BUCKET = 'outport-bench'
const DIR = process.env.BENCH_DIR ?? join(process.cwd(), '.data', 'bench-memory')
const TRANSACTIONS = DATASETS[0]!
const MONTHLY = DATASETS[2]!
const TARGET_MB = 600
const MB = 1024 * 1024
const SIZE = ROWS >= 1e6 ? `${ROWS / 1e6}M` : `${ROWS / 1e3}k`

interface Case { format: ExportFormat, compression: Compression }
const label = (c: Case) => c.compression === 'none' ? c.format : `${c.format}:${c.compression}`
const FILTER = process.env.BENCH_CASES?.split(',')
const CASES: Case[] = EXPORT_FORMAT_IDS.flatMap(format => EXPORT_FORMATS[format].compressions.map(compression => ({ format, compression })))
  .filter(c => !FILTER || FILTER.includes(label(c)))
// Round two's three cases over 600 MB, paired with each other and with CSV.
const PAIRS = (process.env.BENCH_PAIRS ?? 'parquet+jsonl,json:zstd+parquet,csv+csv').split(',').filter(Boolean).map(pair => pair.split('+').map((name): Case => {
  const [format, compression] = name.split(':')
  return { format: format as ExportFormat, compression: (compression ?? 'none') as Compression }
}))

/** Samples the server every 50 ms: the peak RSS, and the breakdown of the sample nearest it. */
function sampler(server: ServerHandle) {
  const rssMb = () => {
    try {
      return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.process.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
    } catch {
      return 0
    }
  }
  let peak = 0
  let breakdown = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, duckdb: 0 }
  const rss = setInterval(() => {
    peak = Math.max(peak, rssMb())
  }, 50)
  // The scrape itself allocates, so only every 500 ms; the breakdown is the largest scrape's.
  let scraping = false
  const scrape = setInterval(async () => {
    if (scraping) return
    scraping = true
    try {
      const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer bench-metrics-token' } })).text()
      const families = parsePrometheus(text)
      const value = (name: string, labels?: Record<string, string>) => (sampleValue(families, name, labels) ?? 0) / MB
      const now = {
        rss: value('outport_process_resident_memory_bytes'),
        heapUsed: value('outport_process_memory_bytes', { kind: 'heap_used' }),
        heapTotal: value('outport_process_memory_bytes', { kind: 'heap_total' }),
        external: value('outport_process_memory_bytes', { kind: 'external' }),
        duckdb: value('outport_duckdb_memory_bytes')
      }
      if (now.rss > breakdown.rss) breakdown = now
    } finally {
      scraping = false
    }
  }, 500)
  return {
    stop() {
      clearInterval(rss)
      clearInterval(scrape)
      return { peak, breakdown }
    },
    rssMb
  }
}

function describeBreakdown(b: { rss: number, heapUsed: number, heapTotal: number, external: number, duckdb: number }): string {
  const rest = b.rss - b.heapTotal - b.external - b.duckdb
  return `at ${b.rss.toFixed(0)} MB: V8 heap ${b.heapTotal.toFixed(0)} (${b.heapUsed.toFixed(0)} used), outside the heap ${b.external.toFixed(0)}, DuckDB ${b.duckdb.toFixed(0)}, rest ${rest.toFixed(0)}`
}

const env = await benchEnvironment(DIR, BUCKET)
const warehouse = join(DIR, 'warehouse.duckdb')
const db = createDb(env.database.url, { max: 2 })
const started = Date.now()
const demo = await seedDemo(db, warehouse, { users: 1, transactions: ROWS, seed: 1 })
await db.$disconnect()
console.error(`Built the warehouse (${ROWS.toLocaleString('en')} rows) in ${((Date.now() - started) / 1000).toFixed(1)} s`)
const token = demo.users[0]!.token
const serverEnv = { ...benchServerEnv(env, DIR, BUCKET), WAREHOUSE_PATH: warehouse }

// A fresh server for each measurement, so a peak is not the previous export's leftovers; with
// BENCH_ONE_SERVER=1 one server runs them all in turn, as a long-lived server does.
const ONE_SERVER = process.env.BENCH_ONE_SERVER === '1'
// How long the server idles between the warm-up and the case: past 5 s the worker has emptied
// DuckDB's cache (releaseCacheAfterMs), as a long-lived server has between exports.
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 1)
let shared: ServerHandle | undefined
async function measure(name: string, cases: Case[]) {
  const server = ONE_SERVER ? (shared ??= await startServer(serverEnv)) : await startServer(serverEnv)
  try {
    const api = client(server.url)
    // Warm-up: opens the warehouse and the pools, as a server that has exported before.
    await api.waitForExport(token, await api.createExport(token, { dataset_id: MONTHLY.id, format: 'csv' }))
    const s = sampler(server)
    await new Promise(resolve => setTimeout(resolve, IDLE_SECONDS * 1000))
    const idle = s.rssMb()
    const ids = await Promise.all(cases.map(c => api.createExport(token, { dataset_id: TRANSACTIONS.id, format: c.format, ...(c.compression !== 'none' && { compression: c.compression }) })))
    const jobs: ExportJobDTO[] = await Promise.all(ids.map(id => api.waitForExport(token, id, 900_000, 500)))
    const { peak, breakdown } = s.stop()
    for (const job of jobs) if (job.status !== 'completed') throw new Error(`${name}: export ${job.status}: ${JSON.stringify(job.error)}`)
    const rows = jobs.map(j => j.row_count!.toLocaleString('en')).join(' + ')
    // The server's own durations (created → completed): a lower peak bought by a slower export shows.
    const seconds = jobs.map(j => ((Date.parse(j.completed_at!) - Date.parse(j.created_at)) / 1000).toFixed(1)).join(' + ')
    record(`${name}: server peak RSS (${rows} rows)`, `${peak.toFixed(0)} MB (idle ${idle.toFixed(0)}; ${seconds} s)`, `≤ ${TARGET_MB} MB`, peak <= TARGET_MB)
    console.error(`    ${describeBreakdown(breakdown)}`)
    return breakdown
  } finally {
    if (!ONE_SERVER) await server.stop()
  }
}

const breakdowns: string[] = []
for (const c of CASES) {
  if (EXPORT_FORMATS[c.format].maxRows !== null && ROWS > EXPORT_FORMATS[c.format].maxRows!) {
    console.error(`  ${label(c)}: skipped (a sheet holds ${EXPORT_FORMATS[c.format].maxRows!.toLocaleString('en')} rows; run BENCH_ROWS=1000000 BENCH_CASES=xlsx)`)
    continue
  }
  const name = `${SIZE} ${label(c)}`
  breakdowns.push(`${name}: ${describeBreakdown(await measure(name, [c]))}`)
}
for (const pair of PAIRS) {
  const name = `two at once, ${SIZE} ${pair.map(label).join(' + ')}`
  breakdowns.push(`${name}: ${describeBreakdown(await measure(name, pair))}`)
}

await shared?.stop()
await env.s3.stop()
await env.database.drop()
await rm(DIR, { recursive: true, force: true })
console.log(`\nOutport memory benchmark, ${new Date().toISOString().slice(0, 10)}, commit ${gitCommit()}, Node ${process.version}\n`)
printTable()
console.log('\nWhere the memory was at the largest scrape (every 500 ms) of each run, MB:')
for (const line of breakdowns) console.log(`- ${line}`)
process.exit(0)
