/**
 * `npm run bench:scale`: Outport scaled out, as users who outgrow one process run it: one
 * OUTPORT_ROLE=web process and N OUTPORT_ROLE=worker processes on one PostgreSQL and one bucket
 * (real PostgreSQL, DuckDB and s3rver). Measures
 *   1. how fast 1, 2 and 4 worker processes drain queued 100k-row Parquet exports, and where the
 *      CPU goes while they do (per process from /proc, and inside the workers by code from a perf
 *      profile when perf is installed);
 *   2. with 10,000 pending jobs, the claim and the queue_position read every status poll makes
 *      (and the status endpoint over HTTP), with the plans PostgreSQL runs them with;
 *   3. the queue's own cost per job: every statement the worker makes on the jobs table for a job.
 * Prints one table of figures with their targets, then the plans; it asserts nothing.
 *
 * Smaller runs while developing: SCALE_JOBS (200), SCALE_ROWS (100000 rows per user),
 * SCALE_WORKERS (1,2,4), SCALE_PENDING (10000), SCALE_CYCLES (200), SCALE_POLLS (500); SCALE_PERF=0
 * skips the profile; SCALE_RETRIES (2) bounds how often a drain disturbed by other work is redone. EXPORT_WORKER_CONCURRENCY, DUCKDB_THREADS and DUCKDB_MEMORY_LIMIT pass through.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { loadConfig } from '../server/lib/config'
import { createDb, type Db } from '../server/lib/db/client'
import { seedDemo, type DemoOutput } from '../server/lib/demo-seed'
import { findUserExport, queuePosition } from '../server/lib/exports/jobs/history'
import { claimJobs, completeJob, failLostJobs, holdsClaim, JOBS_CHANNEL, renewLease, reportProgress, type ClaimedJob } from '../server/lib/exports/jobs/queue'
import { JOB_COLUMNS } from '../server/lib/exports/jobs/record'
import { createExportJob } from '../server/lib/exports/jobs/submit'
import { S3RVER_CREDENTIALS, type S3rverHandle } from '../server/lib/local/s3rver'
import { DATASETS } from '../server/lib/warehouse/datasets'
import type { ExportMetadata } from '../shared/types/exports'
import type { TestDatabase } from '../tests/helpers/database'
import { client } from '../tests/helpers/http'
import { startServer, type ServerHandle } from '../tests/helpers/server'
import { gitCommit, percentile, printTable, record } from './report'
import { benchEnvironment } from './environment'
import { procTicks } from './cpu'

const JOBS = Number(process.env.SCALE_JOBS ?? 200)
const ROWS = Number(process.env.SCALE_ROWS ?? 100_000)
const USERS = 10
const WORKERS = (process.env.SCALE_WORKERS ?? '1,2,4').split(',').map(Number)
const PENDING = Number(process.env.SCALE_PENDING ?? 10_000)
const CYCLES = Number(process.env.SCALE_CYCLES ?? 200)
const POLLS = Number(process.env.SCALE_POLLS ?? 500)
// A drain is measured again (at most this many times) when other work took the cores meanwhile.
const RETRIES = Number(process.env.SCALE_RETRIES ?? 2)
const begun = Date.now()
const BUCKET = 'outport-bench-scale'
// Not bench/run.ts's .data/bench, which that benchmark empties when it starts.
const DIR = join(process.cwd(), '.data', 'bench-scale')
const TRANSACTIONS = DATASETS[0]!
const CORES = cpus().length
const rowsLabel = ROWS >= 1e6 ? `${ROWS / 1e6}M` : `${ROWS / 1e3}k`

/** The workers' hottest functions during each drain (perf), by worker count. */
const profiles = new Map<number, string[]>()

const ms = (value: number) => value < 10 ? value.toFixed(2) : value.toFixed(1)
const p50p95 = (values: number[]) => `${ms(percentile(values, 0.5))} / ${ms(percentile(values, 0.95))} ms`

/** Times one call in milliseconds. */
async function timed<T>(samples: number[], run: () => Promise<T>): Promise<T> {
  const t0 = performance.now()
  const result = await run()
  samples.push(performance.now() - t0)
  return result
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc: utime + stime of each process (and of the workers' main threads).

/** Every process on the machine: pid → [comm, CPU ticks]. */
function allProcesses(): Map<string, [string, number]> {
  const all = new Map<string, [string, number]>()
  for (const pid of readdirSync('/proc').filter(name => /^\d+$/.test(name))) {
    const t = procTicks(pid)
    if (t) all.set(pid, t)
  }
  return all
}

/** Machine-wide busy and total ticks (all cores) from /proc/stat. */
function machineTicks(): { busy: number, iowait: number, total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = cpu.reduce((a, b) => a + b, 0)
  // idle and iowait are not busy.
  return { busy: total - cpu[3]! - cpu[4]!, iowait: cpu[4]!, total }
}

interface Target { group: string, pid: number }

/**
 * Samples CPU ticks every 250 ms while a phase runs: per process (its /proc/<pid>/stat counts its
 * threads that ended too), and the workers' main threads apart (Node 20 names none of its threads,
 * so only the main thread, where the JavaScript runs, stands apart; the perf profile splits the
 * rest by code). A process that appears after the start counts from zero; one that ends keeps
 * what it had at its last sample.
 */
class CpuSampler {
  /** Every process sampled, by pid: its group (for the perf profile). */
  readonly pids = new Map<string, string>()
  private readonly first = new Map<string, number>()
  private readonly last = new Map<string, { group: string, ticks: number }>()
  private machineStart = machineTicks()
  private machineEnd = this.machineStart
  private processesStart = allProcesses()
  private processesEnd = this.processesStart
  private timer?: NodeJS.Timeout
  private sampling = Promise.resolve()

  constructor(private readonly targets: () => Promise<Target[]>) {}

  async start() {
    this.machineStart = machineTicks()
    this.processesStart = allProcesses()
    await this.sample(true)
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample(false)).catch(() => {})
    }, 250)
  }

  async stop() {
    clearInterval(this.timer)
    await this.sampling
    await this.sample(false)
    this.processesEnd = allProcesses()
    this.machineEnd = machineTicks()
  }

  private async sample(initial: boolean) {
    for (const { group, pid } of await this.targets()) {
      this.pids.set(String(pid), group)
      const entries: Array<[string, string, number | undefined]> = [[String(pid), group, procTicks(String(pid))?.[1]]]
      if (group === 'workers') entries.push([`${pid}/main`, 'workers: JS main thread', procTicks(`${pid}/task/${pid}`)?.[1]])
      for (const [key, name, value] of entries) {
        if (value === undefined) continue
        if (!this.first.has(key)) this.first.set(key, initial ? value : 0)
        this.last.set(key, { group: name, ticks: value })
      }
    }
    this.machineEnd = machineTicks()
  }

  /** CPU per group in percent of the whole machine (all cores = 100 %), over the sampled time. */
  shares(): { groups: Map<string, number>, others: Map<string, number>, busy: number, iowait: number } {
    const total = this.machineEnd.total - this.machineStart.total
    const groups = new Map<string, number>()
    for (const [key, { group, ticks: value }] of this.last) {
      groups.set(group, (groups.get(group) ?? 0) + (value - this.first.get(key)!) / total * 100)
    }
    // The rest of the machine (other work on the same cores, kernel threads), by process name.
    const others = new Map<string, number>()
    for (const [pid, [comm, value]] of this.processesEnd) {
      if (this.pids.has(pid)) continue
      const delta = (value - (this.processesStart.get(pid)?.[1] ?? 0)) / total * 100
      if (delta > 0) others.set(comm, (others.get(comm) ?? 0) + delta)
    }
    return { groups, others, busy: (this.machineEnd.busy - this.machineStart.busy) / total * 100, iowait: (this.machineEnd.iowait - this.machineStart.iowait) / total * 100 }
  }
}

/** This database's PostgreSQL backends, the server's background processes and the postmaster (not other databases' backends). */
async function postgresPids(sql: pg.Client, database: string): Promise<number[]> {
  const { rows } = await sql.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 OR datname IS NULL', [database])
  const pids = rows.map(r => r.pid)
  // The postmaster is every backend's parent (field 4 of /proc/<pid>/stat).
  try {
    const stat = readFileSync(`/proc/${pids[0]}/stat`, 'utf8')
    pids.push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
  } catch { /* PostgreSQL runs elsewhere: its CPU is not seen */ }
  return pids
}

/** The statement (text and values) a queue function sends to the pool, captured without running it. */
async function captured(call: (db: Db) => Promise<unknown>): Promise<{ text: string, values: unknown[] }> {
  let statement: { text: string, values: unknown[] } | undefined
  const query = async (config: string | { text: string, values?: unknown[] }, values?: unknown[]) => {
    statement = typeof config === 'string' ? { text: config, values: values ?? [] } : { text: config.text, values: config.values ?? [] }
    return { rows: [{ ahead: 0 }] }
  }
  await call({ pool: { query } } as unknown as Db)
  if (!statement) throw new Error('no statement captured')
  return statement
}

/** Waits (up to two minutes) until the rest of the machine is quiet: other work on the cores skews a drain. */
async function waitForQuiet() {
  for (let i = 0; i < 60; i++) {
    const a = machineTicks()
    await sleep(2000)
    const b = machineTicks()
    const busy = (b.busy - a.busy) / (b.total - a.total) * 100
    if (busy < 25) return
    if (i === 0) console.error(`  the machine is ${busy.toFixed(0)} % busy with other work; waiting (up to 2 minutes) for it to settle`)
  }
  console.error('  the machine stayed busy: measuring anyway (see "rest of the machine")')
}

/**
 * A private copy of the built server, taken when no build is under way: the servers here load
 * chunks lazily, so another `npm run build` during the run would pull files from under them.
 */
async function snapshotBuild(): Promise<string> {
  const source = '.output/server/index.mjs'
  const target = join(DIR, 'output')
  for (let i = 0; i < 180; i++) {
    // A build is done with .output once its entry is there and has not changed for ten seconds.
    const mtime = existsSync(source) ? statSync(source).mtimeMs : undefined
    if (mtime !== undefined && Date.now() - mtime > 10_000) {
      await rm(target, { recursive: true, force: true })
      execFileSync('cp', ['-a', '.output', target])
      if (existsSync(source) && statSync(source).mtimeMs === mtime) return join(target, 'server', 'index.mjs')
    }
    if (i === 0) console.error('  .output is being rebuilt; waiting for the build to finish')
    await sleep(1000)
  }
  throw new Error('.output stayed under construction for three minutes')
}

/**
 * A system-wide perf profile (99 Hz on every core; an idle core gives no samples, so its shares are
 * of the busy time), when perf is installed and allowed; SCALE_PERF=0 turns it off.
 */
async function startPerf(file: string): Promise<{ pid: number, stop: () => Promise<boolean> } | undefined> {
  if (process.env.SCALE_PERF === '0') return undefined
  const child = spawn('perf', ['record', '-F', '99', '-a', '-o', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d
  })
  // perf writes its file on SIGINT and then ends by that signal.
  const exited = new Promise<boolean>(resolve => child.once('close', (code, signal) => resolve(code === 0 || signal === 'SIGINT')).once('error', () => resolve(false)))
  await sleep(300)
  if (child.exitCode !== null || child.pid === undefined) {
    console.error(`  perf is not available (${stderr.trim().split('\n')[0] ?? 'no output'}): no profile`)
    return undefined
  }
  return {
    pid: child.pid,
    stop: async () => {
      child.kill('SIGINT')
      return await exited && existsSync(file)
    }
  }
}

function perfReport(file: string, args: string[]): string[] {
  try {
    return execFileSync('perf', ['report', '-i', file, '--stdio', ...args], { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().split('\n').filter(line => line.trim() && !line.startsWith('#'))
  } catch {
    return []
  }
}

/** What code a perf shared object is. */
function codeKind(dso: string): string {
  if (dso === 'libduckdb.so') return 'DuckDB'
  if (dso === 'node') return 'node binary (V8, GC, OpenSSL, zlib)'
  if (dso === '[kernel.kallsyms]') return 'kernel'
  if (/^(libc|libstdc\+\+|libm|ld-linux)/.test(dso)) return 'libc/libstdc++'
  if (/^\[JIT\]|^perf-\d+\.map|^\[unknown\]|^memfd|^tid /.test(dso)) return 'JIT-compiled JavaScript'
  return dso
}

/** Each group's samples by code; and the workers' hottest functions. */
function perfShares(file: string, pids: Map<string, string>): { byGroup: Map<string, Map<string, number>>, symbols: string[] } {
  const byGroup = new Map<string, Map<string, number>>()
  let script = ''
  try {
    script = execFileSync('perf', ['script', '-i', file, '-F', 'pid,tid,ip,dso'], { maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] }).toString()
  } catch { /* no profile */ }
  for (const line of script.split('\n')) {
    // "15735/15745      7feb50c28a30 (/work/main/node_modules/.../libduckdb.so)": process/thread, address, object.
    const m = /^\s*(\d+)\/\d+\s+\S+\s+\((.*)\)\s*$/.exec(line)
    if (!m) continue
    const group = pids.get(m[1]!) ?? 'rest of the machine'
    const kind = codeKind(m[2]!.split('/').at(-1)!)
    const kinds = byGroup.get(group) ?? new Map<string, number>()
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
    byGroup.set(group, kinds)
  }
  const workerPids = [...pids].filter(([, group]) => group === 'workers').map(([pid]) => pid)
  const symbols = workerPids.length ? perfReport(file, ['--pid', workerPids.join(','), '--percentage', 'relative', '--sort', 'dso,sym', '--percent-limit', '0.5']).slice(0, 25) : []
  return { byGroup, symbols }
}

// ---------------------------------------------------------------------------------------------

interface Scale {
  /** The private copy of the built server's entry. */
  entry: string
  database: TestDatabase
  s3: S3rverHandle
  env: Record<string, string>
  sql: pg.Client
  db: Db
  demo: DemoOutput
  web: ServerHandle
  metadata: ExportMetadata
}

interface Drained { rate: number, rest: number, figures: Array<[string, string]>, symbols: string[] }

/** 1.: N worker processes drain JOBS queued exports. Returns its figures, for the caller to keep or measure again. */
async function drain(scale: Scale, workers: number, base: number | undefined): Promise<Drained> {
  const { sql, demo } = scale
  const figures: Array<[string, string]> = []
  let symbols: string[] = []
  const api = client(scale.web.url)
  // Queued through the API, round-robin over the users, with no worker running yet...
  const ids: string[] = []
  for (let i = 0; i < JOBS; i++) {
    const user = demo.users[i % demo.users.length]!
    ids.push(await api.createExport(user.token, { dataset_id: TRANSACTIONS.id, format: 'parquet' }))
  }
  // ...and held back (run_at in the future) while the workers start, so that starting N processes
  // (each about a second of CPU) is not part of the drain; then released at once.
  await sql.query('UPDATE jobs SET run_at = now() + interval \'1 hour\' WHERE id = ANY($1)', [ids])
  const processes = await Promise.all(Array.from({ length: workers }, (_, i) => startServer({
    ...scale.env,
    OUTPORT_ROLE: 'worker',
    EXPORT_WORK_DIR: join(DIR, `work-${workers}-${i}`)
  }, { entry: scale.entry })))
  const sampler = new CpuSampler(async () => [
    { group: 'web', pid: scale.web.process.pid! },
    ...processes.map(p => ({ group: 'workers', pid: p.process.pid! })),
    { group: 's3rver', pid: scale.s3.pid },
    { group: 'bench (this process)', pid: process.pid },
    ...(perf ? [{ group: 'perf', pid: perf.pid }] : []),
    ...(await postgresPids(sql, scale.database.name)).map(pid => ({ group: 'postgres', pid }))
  ])
  const perfFile = join(DIR, `perf-${workers}.data`)
  let perf: Awaited<ReturnType<typeof startPerf>>
  try {
    await sleep(500)
    await waitForQuiet()
    perf = await startPerf(perfFile)
    await sampler.start()
    const { rows: [released] } = await sql.query<{ at: Date }>(`WITH released AS (UPDATE jobs SET run_at = now() WHERE id = ANY($1) RETURNING 1)
      SELECT now() AS at, pg_notify('${JOBS_CHANNEL}', 'new') AS notified, (SELECT count(*) FROM released) AS n`, [ids])
    let done = 0
    const deadline = Date.now() + 15 * 60_000
    while (done < JOBS) {
      await sleep(200)
      const { rows: [row] } = await sql.query<{ done: number, failed: number }>(`SELECT count(*) FILTER (WHERE status IN ('completed', 'failed', 'cancelled'))::int AS done,
        count(*) FILTER (WHERE status IN ('failed', 'cancelled'))::int AS failed FROM jobs WHERE id = ANY($1)`, [ids])
      done = row!.done
      if (row!.failed) throw new Error(`${row!.failed} drain job(s) failed`)
      if (Date.now() > deadline) throw new Error(`drain with ${workers} worker(s): ${done}/${JOBS} done after 15 minutes`)
    }
    await sampler.stop()
    const profiled = await perf?.stop()
    perf = undefined
    const { rows: [stats] } = await sql.query<{ drain: number, job: number, p95: number }>(`
      SELECT extract(epoch FROM max(completed_at) - $2::timestamptz) AS drain,
        avg(extract(epoch FROM completed_at - started_at)) AS job,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - started_at)) AS p95
      FROM jobs WHERE id = ANY($1)`, [ids, released!.at])
    const seconds = Number(stats!.drain)
    const rate = JOBS / seconds
    const slots = workers * Number(scale.env.EXPORT_WORKER_CONCURRENCY ?? 2)
    const label = `drain ${JOBS} × ${rowsLabel}-row parquet, ${workers} worker process${workers > 1 ? 'es' : ''} (${slots} slots)`
    figures.push([label, `${seconds.toFixed(1)} s, ${rate.toFixed(2)} jobs/s${base ? ` (${(rate / base).toFixed(2)}× 1 worker)` : ''}`])
    // Mean jobs in flight = total job time ÷ drain time.
    figures.push([`  ${workers}w: one job started → completed, mean / p95`, `${Number(stats!.job).toFixed(2)} / ${Number(stats!.p95).toFixed(2)} s (mean ${(JOBS * Number(stats!.job) / seconds).toFixed(1)} in flight)`])
    const { groups, others, busy, iowait } = sampler.shares()
    const pct = (v: number | undefined) => `${(v ?? 0).toFixed(0)} %`
    const workerTotal = groups.get('workers') ?? 0
    const rest = (m: Map<string, number>) => {
      const top = [...m].filter(([, v]) => v >= 1).sort((a, b) => b[1] - a[1]).slice(0, 3)
      return top.length ? ` (${top.map(([comm, v]) => `${comm} ${pct(v)}`).join(', ')})` : ''
    }
    const accounted = workerTotal + ['web', 's3rver', 'postgres', 'bench (this process)', 'perf'].reduce((s, g) => s + (groups.get(g) ?? 0), 0)
    const restShare = Math.max(0, busy - accounted)
    figures.push([`  ${workers}w: CPU, % of ${CORES} cores`, `busy ${pct(busy)}, iowait ${pct(iowait)}: workers ${pct(workerTotal)} (JS main threads ${pct(groups.get('workers: JS main thread'))}); s3rver ${pct(groups.get('s3rver'))}; postgres ${pct(groups.get('postgres'))}; web ${pct(groups.get('web'))}; bench ${pct(groups.get('bench (this process)'))}${groups.has('perf') ? `; perf ${pct(groups.get('perf'))}` : ''}; rest of the machine ${pct(restShare)}${rest(others)}`])
    if (profiled) {
      const profile = perfShares(perfFile, sampler.pids)
      const { byGroup } = profile
      // As shares of the group's own samples: perf sees only busy time, /proc says how much that is.
      const split = (group: string) => {
        const kinds = [...byGroup.get(group) ?? []]
        const sum = kinds.reduce((a, [, v]) => a + v, 0)
        return kinds.map(([kind, v]) => [kind, v / sum * 100] as const).filter(([, v]) => v >= 1).sort((a, b) => b[1] - a[1])
          .map(([kind, v]) => `${kind} ${v.toFixed(0)} %`).join(', ')
      }
      figures.push([`  ${workers}w: the workers' CPU by code (perf, % of theirs)`, split('workers')])
      if (byGroup.has('s3rver')) figures.push([`  ${workers}w: s3rver's CPU by code (perf, % of its)`, split('s3rver')])
      symbols = profile.symbols
    }
    return { rate, rest: restShare, figures, symbols }
  } finally {
    await perf?.stop()
    await Promise.all(processes.map(p => p.stop()))
    await rm(perfFile, { force: true })
  }
}

/** The statements one job makes on the queue, as the worker makes them. */
interface Cycle { claim: number[], lost: number[], renew: number[], progress: number[], fence: number[], complete: number[], total: number[] }

/**
 * 3.: one job's queue statements, timed one by one in this process: the worker's failLostJobs +
 * claimJobs before each claim, one lease renewal (a heartbeat: every 10 s of a job), one progress
 * write (throttled to one a second), the fence (holdsClaim, before the upload is committed), and
 * the completion. `fresh` creates each job first (untimed) for an empty queue.
 */
async function cycles(scale: Scale, count: number, fresh: boolean): Promise<Cycle> {
  const { db } = scale
  const c: Cycle = { claim: [], lost: [], renew: [], progress: [], fence: [], complete: [], total: [] }
  const lease = 30_000
  for (let i = 0; i < count; i++) {
    if (fresh) await createExportJob(db, scale.demo.users[i % scale.demo.users.length]!.user_id, scale.metadata)
    const t0 = performance.now()
    await timed(c.lost, () => failLostJobs(db, 3))
    const [job] = await timed(c.claim, () => claimJobs(db, 'bench-scale:1', 1, lease)) as [ClaimedJob?]
    if (!job) throw new Error('nothing to claim')
    const claim = { jobId: job.id, claimId: job.claimId }
    if (!await timed(c.renew, () => renewLease(db, claim, lease))) throw new Error('lease lost')
    await timed(c.progress, () => reportProgress(db, claim, { phase: 'uploading', percent: 60, rows: 100_000, bytes_uploaded: 1_000_000 }))
    if (!await timed(c.fence, () => holdsClaim(db, claim))) throw new Error('claim lost')
    await timed(c.complete, () => completeJob(db, job, { s3_key: `exports/${job.id}.parquet`, row_count: 100_000, file_size_bytes: 2_000_000, checksum_sha256: 'a'.repeat(64) }, { phase: 'finalizing', percent: 100, rows: 100_000, bytes_uploaded: 2_000_000 }))
    c.total.push(performance.now() - t0)
  }
  return c
}

function recordCycle(label: string, c: Cycle, jobSeconds?: number) {
  const p50 = (v: number[]) => ms(percentile(v, 0.5))
  record(`queue statements per job, ${label}: total p50 / p95`, `${p50p95(c.total)}${jobSeconds ? ` (${(percentile(c.total, 0.5) / 10 / jobSeconds).toFixed(1)} % of a ${jobSeconds.toFixed(2)} s job, the 1-worker drain's median)` : ''}`)
  record(`  of which (p50, ms)`, `failLostJobs ${p50(c.lost)}, claim ${p50(c.claim)}, lease renewal ${p50(c.renew)}, progress ${p50(c.progress)}, fence ${p50(c.fence)}, completion ${p50(c.complete)}`)
}

/** 2.: 10,000 pending jobs: the claim, queue_position and the status poll stay flat. */
async function deepQueue(scale: Scale, emptyClaims: number[]): Promise<string[]> {
  const { sql, db, demo } = scale
  // As submitExportJob inserts them, a millisecond apart (as many requests would), over the users.
  const t0 = performance.now()
  await sql.query(`INSERT INTO jobs (user_id, type, status, metadata, progress, run_at, created_at, updated_at)
    SELECT (ARRAY[${demo.users.map((_, i) => `$${i + 3}::uuid`).join(', ')}])[1 + i % ${demo.users.length}], 'EXPORT', 'pending', $1::jsonb, $2::jsonb,
      now() - interval '1 minute' + i * interval '1 millisecond', now() - interval '1 minute' + i * interval '1 millisecond', now()
    FROM generate_series(0, ${PENDING - 1}) AS i`, [JSON.stringify(scale.metadata), JSON.stringify({ phase: 'queued', percent: 0, rows: null, bytes_uploaded: null }), ...demo.users.map(u => u.user_id)])
  // Autovacuum is what keeps statistics and the visibility map current in production; it may be
  // off here (it is on this machine), so its work is done by hand.
  await sql.query('VACUUM ANALYZE jobs')
  const { rows: [counts] } = await sql.query<{ pending: number, all: number }>('SELECT count(*) FILTER (WHERE status = \'pending\')::int AS pending, count(*)::int AS all FROM jobs')
  console.error(`Inserted ${PENDING.toLocaleString('en')} pending jobs in ${((performance.now() - t0) / 1000).toFixed(1)} s (${counts!.pending} pending of ${counts!.all} rows)`)

  // Jobs at five positions in the queue, front to back.
  const positions = [0, 0.25, 0.5, 0.75, 1].map(f => Math.min(PENDING - 1, Math.round(f * (PENDING - 1))))
  const polled = []
  for (const position of positions) {
    const { rows: [row] } = await sql.query<{ id: string, user_id: string }>('SELECT id, user_id FROM jobs WHERE status = \'pending\' ORDER BY run_at, created_at OFFSET $1 LIMIT 1', [position])
    const job = (await findUserExport(db, row!.user_id, row!.id))!
    const token = demo.users.find(u => u.user_id === row!.user_id)!.token
    polled.push({ position, job, token })
  }
  const positionMs = new Map<number, number[]>(positions.map(p => [p, []]))
  for (let i = 0; i < POLLS; i++) {
    const { position, job } = polled[i % polled.length]!
    const ahead = await timed(positionMs.get(position)!, () => queuePosition(db, job))
    if (ahead !== position) throw new Error(`queue_position ${ahead}, expected ${position}`)
  }
  const all = [...positionMs.values()].flat()
  const p95 = percentile(all, 0.95)
  record(`queue_position read (${PENDING.toLocaleString('en')} pending, ${POLLS} reads): p50 / p95`, p50p95(all), 'p95 ≤ 5 ms', p95 <= 5)
  record('  by position in the queue (p95)', positions.map(p => `#${p}: ${ms(percentile(positionMs.get(p)!, 0.95))} ms`).join(', '))

  // The status poll over HTTP, as a client makes it (keep-alive, one at a time).
  const http: number[] = []
  for (let i = 0; i < POLLS; i++) {
    const { job, token, position } = polled[i % polled.length]!
    const body = await timed(http, async () => {
      const res = await fetch(`${scale.web.url}/api/analytics/exports/${job.id}`, { headers: { authorization: `Bearer ${token}` } })
      if (res.status !== 200) throw new Error(`GET status: ${res.status}`)
      return res.json() as Promise<{ queue_position: number }>
    })
    if (body.queue_position !== position) throw new Error(`queue_position ${body.queue_position} over HTTP, expected ${position}`)
  }
  record(`status poll GET /api/analytics/exports/:id over HTTP (${PENDING.toLocaleString('en')} pending): p50 / p95`, p50p95(http))

  // The plans, of the statements exactly as the server sends them (the claim rolled back).
  const last = polled.at(-1)!.job
  const position = await captured(fake => queuePosition(fake, last))
  const claim = await captured(fake => claimJobs(fake, 'bench-scale:explain', 1, 30_000))
  const plans: string[] = []
  // EXPLAIN takes no bind parameters: each statement is prepared, as the server's pool prepares
  // it, and EXPLAIN EXECUTE'd with the values as literals.
  const literal = (v: unknown) => sql.escapeLiteral(v instanceof Date ? v.toISOString() : String(v))
  const explain = async (title: string, statement: { text: string, values: unknown[] }, generic = false) => {
    await sql.query(`PREPARE explained AS ${statement.text}`)
    if (generic) await sql.query('SET plan_cache_mode = force_generic_plan')
    try {
      const { rows } = await sql.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) EXECUTE explained(${statement.values.map(literal).join(', ')})`)
      const plan = rows.map(r => r['QUERY PLAN']).join('\n')
      plans.push(`${title}\n\n${statement.text.replace(/^\s*\n/, '').replace(JOB_COLUMNS, '<JOB_COLUMNS>')}\n\n${plan}`)
      return plan
    } finally {
      await sql.query('RESET plan_cache_mode')
      await sql.query('DEALLOCATE explained')
    }
  }
  const positionPlan = await explain(`queue_position of the last of ${PENDING.toLocaleString('en')} pending jobs (history.ts queuePosition), custom plan:`, position)
  // A pooled connection may switch a prepared statement to its generic plan after five runs.
  const genericPlan = await explain('The same statement, generic plan (what a prepared statement may settle on after five runs):', position, true)
  await sql.query('BEGIN')
  const claimPlan = await explain(`claimJobs(limit 1) with ${PENDING.toLocaleString('en')} pending jobs (queue.ts), rolled back:`, claim)
  await sql.query('ROLLBACK')
  const uses = (plan: string) => {
    const indexes = [...new Set([...plan.matchAll(/(?:Index (?:Only )?Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\S+)/g)].map(m => m[1]!))]
    const seq = /Seq Scan on jobs/.test(plan)
    return { ok: indexes.length > 0 && !seq, text: `${seq ? 'Seq Scan on jobs, ' : ''}${indexes.length ? `index ${indexes.join(' + ')}` : 'no index'}` }
  }
  const heap = (plan: string) => /Heap Fetches: (\d+)/.exec(plan)?.[1]
  const rowsRead = (plan: string) => /Rows Removed by Filter: (\d+)/.exec(plan)?.[1]
  for (const [label, plan] of [['queue_position plan (custom)', positionPlan], ['queue_position plan (generic)', genericPlan], ['claim plan', claimPlan]] as const) {
    const u = uses(plan)
    const execution = /Execution Time: ([\d.]+) ms/.exec(plan)?.[1]
    record(`  ${label}`, `${u.text}${heap(plan) ? `, heap fetches ${heap(plan)}` : ''}${rowsRead(plan) ? `, ${rowsRead(plan)} rows removed by filter` : ''}, ${execution} ms`, 'uses an index', u.ok)
  }

  // The claim, 200 times with the queue this deep: each claim, then the job's other statements.
  const deep = await cycles(scale, CYCLES, false)
  const claimP95 = percentile(deep.claim, 0.95)
  record(`claim latency, claimJobs(limit 1), empty queue: p50 / p95`, p50p95(emptyClaims))
  record(`claim latency, claimJobs(limit 1), ${PENDING.toLocaleString('en')} pending: p50 / p95`, p50p95(deep.claim), 'p95 ≤ 5 ms', claimP95 <= 5)
  recordCycle(`${PENDING.toLocaleString('en')} pending`, deep)
  return plans
}

async function main() {
  const { database, s3 } = await benchEnvironment(DIR, BUCKET)
  const warehouse = join(DIR, 'warehouse.duckdb')
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    WAREHOUSE_PATH: warehouse,
    S3_EXPORTS_BUCKET: BUCKET,
    S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    NUXT_SESSION_PASSWORD: 'bench-session-password-that-is-long-enough-0123456789',
    // Every job of the drain is queued before a worker runs.
    EXPORT_MAX_ACTIVE_PER_USER: String(JOBS),
    EXPORT_MAX_QUEUE_DEPTH: String(Math.max(1000, JOBS + PENDING)),
    LOG_LEVEL: 'warn',
    ...(process.env.EXPORT_WORKER_CONCURRENCY && { EXPORT_WORKER_CONCURRENCY: process.env.EXPORT_WORKER_CONCURRENCY }),
    ...(process.env.DUCKDB_MEMORY_LIMIT && { DUCKDB_MEMORY_LIMIT: process.env.DUCKDB_MEMORY_LIMIT }),
    ...(process.env.DUCKDB_THREADS && { DUCKDB_THREADS: process.env.DUCKDB_THREADS })
  }
  const config = loadConfig(env)
  const sql = new pg.Client({ connectionString: database.url })
  await sql.connect()
  const db = createDb(database.url)
  let web: ServerHandle | undefined
  const plans: string[] = []
  try {
    const started = Date.now()
    const demo = await seedDemo(db, warehouse, { users: USERS, transactions: ROWS, seed: 1 })
    console.error(`Built the warehouse (${USERS} users × ${ROWS.toLocaleString('en')} transactions) in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    const entry = await snapshotBuild()
    web = await startServer({ ...env, OUTPORT_ROLE: 'web' }, { entry })
    const metadata: ExportMetadata = { dataset_id: TRANSACTIONS.id, dataset_name: TRANSACTIONS.name, format: 'parquet', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] } }
    const scale: Scale = { entry, database, s3, env: { ...env, EXPORT_WORKER_CONCURRENCY: String(config.EXPORT_WORKER_CONCURRENCY) }, sql, db, demo, web, metadata }

    let base: number | undefined
    let jobSeconds: number | undefined
    for (const workers of WORKERS) {
      // A drain during which other work took the cores is measured again (while time allows).
      // The attempt least disturbed is kept.
      let drained: Drained | undefined
      for (let attempt = 1; ; attempt++) {
        const next = await drain(scale, workers, base)
        if (!drained || next.rest < drained.rest) drained = next
        if (next.rest <= 10 || attempt > RETRIES || Date.now() - begun > 6 * 60_000) break
        console.error(`  other work took ${next.rest.toFixed(0)} % of the machine during that drain: measuring it again`)
      }
      for (const [figure, value] of drained.figures) record(figure, value)
      if (drained.symbols.length) profiles.set(workers, drained.symbols)
      const rate = drained.rate
      base ??= rate
      if (workers === 1 || jobSeconds === undefined) {
        const { rows: [row] } = await sql.query<{ s: number }>('SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - started_at)) AS s FROM jobs WHERE status = \'completed\'')
        jobSeconds = Number(row!.s)
      }
    }

    // 3. before 2.: the queue is empty now.
    const empty = await cycles(scale, CYCLES, true)
    recordCycle('empty queue', empty, jobSeconds)
    plans.push(...await deepQueue(scale, empty.claim))
  } finally {
    await web?.stop()
    await sql.end()
    await db.$disconnect()
    await s3.stop()
    await database.drop()
    await rm(DIR, { recursive: true, force: true })
  }

  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  console.log(`\nOutport scale-out benchmark — ${new Date().toISOString()} — ${CORES} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, commit ${gitCommit()}`)
  console.log(`1 web + N worker processes on one PostgreSQL and one s3rver bucket; per worker process: concurrency ${config.EXPORT_WORKER_CONCURRENCY}, DuckDB threads ${config.DUCKDB_THREADS ?? 'auto'}, memory_limit ${config.DUCKDB_MEMORY_LIMIT}`)
  console.log('Drains: jobs queued through the API and held (run_at ahead) while the workers start, then released at once; timed from the release to the last completed_at (database clock).')
  console.log(`CPU in % of all ${CORES} cores (100 % = every core busy); "rest of the machine" is other work on the same cores. Queue figures: statements timed in this process on its own pool, after VACUUM ANALYZE of jobs (autovacuum's work, done by hand).\n`)
  printTable()
  const widest = Math.max(...profiles.keys())
  if (profiles.get(widest)?.length) console.log(`\nThe workers' hottest functions while ${widest} worker process${widest > 1 ? 'es' : ''} drained the queue (perf, % of the workers' samples):\n\n${profiles.get(widest)!.join('\n')}`)
  for (const plan of plans) console.log(`\n${plan}`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
