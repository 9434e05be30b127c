import { randomUUID } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { hostname } from 'node:os'
import pg from 'pg'
import type { ExportProgress, ExportResult } from '#shared/types/exports'
import { backoffMs } from '../backoff'
import type { AppContext } from '../context'
import type { LogFn } from '../log'
import type { WorkerMetrics } from '../metrics'
import { deleteObject } from '../storage/s3'
import { inlineUploader, type Uploader } from '../storage/uploader'
import { findDataset } from '../warehouse/datasets'
import { latestLoadTime } from '../warehouse/load-time'
import { WarehouseMissingError } from '../warehouse/reader'
import { asExportFailure, ExportCancelled, ExportFailure } from './errors'
import { startIncrementalRun } from './jobs/incremental'
import {
  CANCEL_CHANNEL, claimJobs, claimOf, completedWith, completeJob, deferJob, failJob, failLostJobs, heldClaimIds, holdsClaim, JOBS_CHANNEL,
  releaseJobs, renewLease, reportProgress, WORKER_LOST, type ClaimedJob
} from './jobs/queue'
import { removeExportObjects } from './orphans'
import { lowerOtherThreads } from './priority'
import { removeStaleWorkFiles } from './retention'
import { resultKeys, runExport } from './run'

/** How long fewer exports must have been running before DuckDB gets more threads back (balanceThreads). */
const RAISE_THREADS_AFTER_MS = 2000

export interface WorkerOptions {
  concurrency: number
  workDir: string
  maxAttempts: number
  leaseMs?: number
  heartbeatMs?: number
  sweepMs?: number
  progressIntervalMs?: number
  retryBaseMs?: number
  /** Problems (warn) and outcomes (info), with `job_id`/`user_id` fields where a job is concerned. */
  log?: LogFn
  /** Claims, outcomes, durations and failure codes, for /metrics (server/lib/metrics.ts). */
  metrics?: WorkerMetrics
  /**
   * Called once a job reached its final state here (completed, or failed for good), e.g. to notify
   * the user. Its failures are logged and never change the job's outcome.
   */
  onFinished?: (jobId: string) => Promise<void>
  /** Where exports' uploads run (default: on this thread); closed when the worker stops. */
  uploader?: Uploader
  /** Niceness for the process's threads but the main one, which serves HTTP (0: unchanged). */
  threadNice?: number
  /** How long an incremental run waits when another run of its schedule is under way. */
  deferMs?: number
  /**
   * DuckDB threads of the process (DUCKDB_THREADS, else the cores). While n exports run, DuckDB
   * gets max(1, ⌊threads ÷ n⌋) of them: one instance's threads serve every query on it, and two
   * COPYs each split over all the cores (each plus the thread that waits on it) ran slower
   * together than one after the other, and held more memory. Undefined or with one slot: unchanged.
   */
  duckdbThreads?: number
  /**
   * How long no export must have run before DuckDB's cache is emptied (WarehouseReader.releaseCache):
   * what it keeps of the warehouse after an export would otherwise sit under the next one's memory.
   * 0: never.
   */
  releaseCacheAfterMs?: number
}

interface Running { job: ClaimedJob, controller: AbortController, done: Promise<void> }

/**
 * Claims export jobs from PostgreSQL and runs up to `concurrency` at a time. Two mechanisms find
 * claimable jobs, and both are needed:
 * - LISTEN/NOTIFY wakes the worker the moment a job is created (pickup in milliseconds);
 * - a sweep every `sweepMs` (at most a lease) claims what no notification announces: retries whose
 *   backoff has passed, jobs whose worker died (expired leases), and jobs created while the
 *   listener was reconnecting. It also stops local runs that lost their job (a missed cancel).
 */
export class ExportWorker {
  readonly id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  /** By claim id: after a lost lease this process may hold a new claim on a job it still runs. */
  private readonly running = new Map<string, Running>()
  private listener?: pg.Client
  private sweepTimer?: NodeJS.Timeout
  private stopping = false
  private claiming?: Promise<void>
  private claimAgain = false
  private readonly opts: Required<WorkerOptions>
  /** The DuckDB thread count last asked for (see WorkerOptions.duckdbThreads). */
  private threadsSet?: number
  private raiseTimer?: NodeJS.Timeout
  private releaseTimer?: NodeJS.Timeout
  private balancing: Promise<void> = Promise.resolve()
  private releasing: Promise<void> = Promise.resolve()

  constructor(private readonly ctx: AppContext, options: WorkerOptions) {
    this.opts = {
      leaseMs: 30_000,
      heartbeatMs: 10_000,
      sweepMs: 5_000,
      progressIntervalMs: 1_000,
      retryBaseMs: 2_000,
      log: () => {},
      onFinished: async () => {},
      uploader: inlineUploader,
      threadNice: 0,
      deferMs: 2_000,
      duckdbThreads: 0,
      releaseCacheAfterMs: 5_000,
      ...options,
      metrics: options.metrics ?? { claimed: () => {}, completed: () => {}, failed: () => {} }
    }
  }

  async start(): Promise<void> {
    await mkdir(this.opts.workDir, { recursive: true })
    // Left by a process that was killed mid-export; a running export's file is far younger.
    const removed = await removeStaleWorkFiles(this.opts.workDir, 3600_000).catch(() => [])
    if (removed.length) this.opts.log(`removed ${removed.length} stale file(s) from ${this.opts.workDir}`)
    await this.listen()
    this.sweepTimer = setInterval(() => {
      this.poke()
      void this.abortLost().catch(() => { /* the heartbeat catches it later */ })
    }, this.opts.sweepMs)
    this.sweepTimer.unref()
    this.poke()
  }

  get activeJobIds(): string[] {
    return [...this.running.values()].map(r => r.job.id)
  }

  /** Claims as many jobs as there are free slots. Safe to call at any rate. */
  poke(): void {
    if (this.stopping) return
    if (this.claiming) {
      this.claimAgain = true
      return
    }
    this.claiming = this.claim().catch((error) => {
      this.opts.log(`claim failed: ${describe(error)}`)
    }).finally(() => {
      this.claiming = undefined
      if (this.claimAgain) {
        this.claimAgain = false
        this.poke()
      }
    })
  }

  private async claim() {
    const free = this.opts.concurrency - this.running.size
    if (free <= 0 || this.stopping) return
    // Jobs whose every attempt killed its worker are failed, not handed to this one.
    for (const id of await failLostJobs(this.ctx.db, this.opts.maxAttempts)) {
      this.opts.log(`job ${id}: its worker was lost on the last allowed attempt; failed (WORKER_LOST)`, { job_id: id })
      this.opts.metrics.failed({ code: WORKER_LOST.code, retry: false })
      await this.finished(id)
    }
    const jobs = await claimJobs(this.ctx.db, this.id, free, this.opts.leaseMs)
    for (const job of jobs) {
      // Both times are the database's (started_at is the claim's now()), so clocks cannot skew it.
      const pickupSeconds = ((job.startedAt ?? new Date()).getTime() - job.runAt.getTime()) / 1000
      this.opts.metrics.claimed({ reclaimed: job.reclaimed === true, pickupSeconds })
      if (job.reclaimed) this.opts.log(`job ${job.id}: its worker's lease lapsed; reclaimed (attempt ${job.attempts})`, { job_id: job.id, user_id: job.userId })
    }
    if (this.stopping) {
      // stop() began while the claim was in flight: hand the jobs straight back.
      await persistently(() => releaseJobs(this.ctx.db, jobs.map(claimOf))).catch(() => {})
      return
    }
    for (const job of jobs) this.track(job)
    // A full batch suggests more are waiting; claim again once a slot frees (run() pokes then).
  }

  private track(job: ClaimedJob) {
    const controller = new AbortController()
    const entry: Running = { job, controller, done: Promise.resolve() }
    this.running.set(job.claimId, entry)
    clearTimeout(this.releaseTimer)
    this.balanceThreads()
    entry.done = this.run(job, controller).catch((error: Error) => {
      // The database stayed unreachable through every retry: the lease lapses and another
      // worker (or this one) runs the job again.
      this.opts.log(`job ${job.id}: could not record the outcome (${error.message}); it will be retried after its lease`, { job_id: job.id, user_id: job.userId })
    }).finally(() => {
      this.running.delete(job.claimId)
      this.balanceThreads()
      this.releaseCacheWhenIdle()
      this.poke()
    })
  }

  /**
   * DuckDB's threads divided among the exports running now (WorkerOptions.duckdbThreads). DuckDB
   * stalls the queries running while its thread count changes (two parquet COPYs took 2.1 × as
   * long with the count flipped five times, BENCHMARKS.md): fewer threads are set at once, when a
   * second export starts, but more only once the count has been lower for RAISE_THREADS_AFTER_MS,
   * so a queue draining back to back, one export ending as the next starts, never flips it.
   */
  private balanceThreads() {
    const total = this.opts.duckdbThreads
    if (!total || this.opts.concurrency < 2) return
    clearTimeout(this.raiseTimer)
    const wanted = () => Math.max(1, Math.floor(total / Math.max(1, this.running.size)))
    if (this.threadsSet !== undefined && wanted() > this.threadsSet && !this.stopping) {
      this.raiseTimer = setTimeout(() => this.setThreads(wanted()), RAISE_THREADS_AFTER_MS)
      this.raiseTimer.unref()
      return
    }
    this.setThreads(wanted())
  }

  /**
   * Once no export has run for releaseCacheAfterMs. An export claimed meanwhile waits for the
   * release (a few milliseconds) before its query starts: the lowered limit never meets this
   * worker's own queries.
   */
  private releaseCacheWhenIdle() {
    clearTimeout(this.releaseTimer)
    if (!this.opts.releaseCacheAfterMs || this.running.size > 0 || this.stopping) return
    // An export that starts clears this timer (track()).
    this.releaseTimer = setTimeout(() => {
      this.releasing = this.ctx.warehouse.releaseCache().catch((error: Error) => {
        this.opts.log(`could not empty DuckDB's cache: ${error.message}`)
      })
    }, this.opts.releaseCacheAfterMs)
    this.releaseTimer.unref()
  }

  private setThreads(threads: number) {
    if (threads === this.threadsSet) return
    this.threadsSet = threads
    // In order: the last one asked for is the one that stays.
    this.balancing = this.balancing.then(() => this.ctx.warehouse.setThreads(threads)).catch((error: Error) => {
      this.opts.log(`could not set DuckDB's threads to ${threads}: ${error.message}`)
    })
  }

  private async run(claimed: ClaimedJob, controller: AbortController) {
    const { db } = this.ctx
    let job = claimed
    const claim = claimOf(job)
    const heartbeat = setInterval(() => {
      renewLease(db, claim, this.opts.leaseMs).then((held) => {
        // Cancelled, or reclaimed by another worker after we stalled: stop working on it.
        if (!held) controller.abort()
      }, () => { /* transient: the next beat retries; the lease outlives several missed beats */ })
    }, this.opts.heartbeatMs)
    const progress = throttle(this.opts.progressIntervalMs, (p: ExportProgress) => reportProgress(db, claim, p))
    const fields = { job_id: job.id, user_id: job.userId }
    const format = job.metadata.format
    const started = performance.now()
    const seconds = () => (performance.now() - started) / 1000
    // At the first progress report DuckDB is connected: its threads exist (a first or a fresh
    // instance starts new ones) and its query has not started.
    let lowered = !this.opts.threadNice
    const onProgress = (p: ExportProgress) => {
      if (!lowered) lowerOtherThreads(new Set([process.pid]), this.opts.threadNice)
      lowered = true
      progress.push(p)
    }
    let outcome: { result: Awaited<ReturnType<typeof runExport>> } | { error: unknown }
    try {
      if (job.metadata.incremental) {
        const started = await this.startWindow(job)
        if (!started) {
          clearInterval(heartbeat)
          await persistently(() => deferJob(db, claim, new Date(Date.now() + this.opts.deferMs))).catch(() => {
            // Still held: the lease lapses and the job is claimed again, as after a crash.
          })
          return
        }
        job = started
      }
      await this.releasing
      outcome = {
        result: await runExport(
          job,
          {
            warehouse: this.ctx.warehouse,
            storage: this.ctx.storage,
            workDir: this.opts.workDir,
            signal: controller.signal,
            onProgress,
            // Checked right before the object is committed or removed: a run that lost its claim
            // must not overwrite or delete the object of the run that took over. A claim that cannot
            // be confirmed (the database stayed away) counts as lost: the run stops and the job is
            // reclaimed once its lease lapses.
            fence: () => persistently(() => holdsClaim(db, claim)).catch(() => false),
            uploader: this.opts.uploader
          }
        )
      }
    } catch (error) {
      outcome = { error }
    } finally {
      await progress.flush()
    }
    try {
      if ('result' in outcome) {
        const { result } = outcome
        const done = { phase: 'finalizing', percent: 100, rows: result.row_count, bytes_uploaded: result.file_size_bytes } as const
        if (await persistently(() => completeJob(db, job, result, done))) {
          this.opts.metrics.completed({ format, seconds: seconds(), rows: result.row_count, bytes: result.file_size_bytes })
          this.opts.log(`job ${job.id} completed: ${result.row_count} rows, ${result.file_size_bytes} bytes`, {
            ...fields, level: 'info', format, rows: result.row_count, bytes: result.file_size_bytes, duration_ms: Math.round(seconds() * 1000)
          })
          if (job.attempts > 1) await this.removeEarlierAttempts(job, resultKeys(result))
          await this.finished(job.id)
        } else {
          await this.discardObject(job, result)
        }
        return
      }
      const { error } = outcome
      if (error instanceof ExportCancelled || controller.signal.aborted) return
      const failure = asExportFailure(error)
      const retry = failure.retryable && job.attempts < this.opts.maxAttempts
      this.opts.log(`job ${job.id} attempt ${job.attempts} failed (${failure.code}${retry ? ', will retry' : ''}): ${String(failure.cause ?? failure.message)}`, {
        ...fields, code: failure.code, attempt: job.attempts, retry
      })
      const retryAt = retry ? new Date(Date.now() + backoffMs(job.attempts, { baseMs: this.opts.retryBaseMs, jitter: [0.5, 1] })) : undefined
      const failed = await persistently(() => failJob(db, claim, failure.toJSON(), retryAt))
      if (failed) this.opts.metrics.failed({ format, code: failure.code, retry, seconds: seconds() })
      if (failed && !retry) await this.finished(job.id)
    } finally {
      clearInterval(heartbeat)
    }
  }

  /**
   * An incremental run's window, fixed now that it starts (server/lib/exports/jobs/incremental.ts);
   * null when another run of its schedule is under way (or the claim is gone).
   */
  private async startWindow(job: ClaimedJob): Promise<ClaimedJob | null> {
    const dataset = findDataset(job.metadata.dataset_id)
    if (!dataset?.incrementalColumn) throw new ExportFailure('DATASET_NOT_FOUND', 'This dataset is no longer available for incremental exports.', false)
    return startIncrementalRun(this.ctx.db, job, async () => {
      try {
        return await latestLoadTime(this.ctx.warehouse, dataset)
      } catch (error) {
        throw new ExportFailure('WAREHOUSE_UNAVAILABLE', 'The data warehouse is not available right now. Please try again later.', !(error instanceof WarehouseMissingError), { cause: error })
      }
    })
  }

  /**
   * The run lost its job (cancelled, deleted, or taken over after a stall) while its upload was
   * finishing: its object is this attempt's own and nothing will ever point at it, unless the
   * completion went through after all and only its answer was lost.
   */
  private async discardObject(job: ClaimedJob, result: ExportResult) {
    const { db, storage } = this.ctx
    try {
      if (await persistently(() => completedWith(db, job.id, result.s3_key))) return
      for (const key of resultKeys(result)) await deleteObject(storage, key)
    } catch (error) {
      // The orphan sweep (exports:orphans) removes it later.
      this.opts.log(`job ${job.id}: could not delete the object of a run that lost its job: ${(error as Error).message}`, { job_id: job.id, user_id: job.userId })
    }
  }

  /**
   * A retried job completed: objects earlier attempts left (a worker killed after its upload
   * landed, or mid-upload on a store that keeps what it received) go now rather than at the hourly
   * orphan sweep, so the job has exactly one object.
   */
  private async removeEarlierAttempts(job: ClaimedJob, keys: string[]) {
    await removeExportObjects(this.ctx.storage, job, keys).catch((error: Error) => {
      this.opts.log(`job ${job.id}: could not delete earlier attempts' objects (the orphan sweep will): ${error.message}`, { job_id: job.id, user_id: job.userId })
    })
  }

  /** Safety net for a missed cancel notification: stops runs whose claim is no longer the job's. */
  private async abortLost() {
    const claimIds = [...this.running.keys()]
    if (!claimIds.length) return
    const held = await heldClaimIds(this.ctx.db, claimIds)
    for (const claimId of claimIds) if (!held.has(claimId)) this.running.get(claimId)?.controller.abort()
  }

  private abortJob(jobId: string) {
    for (const entry of this.running.values()) if (entry.job.id === jobId) entry.controller.abort()
  }

  private async finished(jobId: string) {
    await this.opts.onFinished(jobId).catch((error: Error) => this.opts.log(`after job ${jobId}: ${error.message}`, { job_id: jobId }))
  }

  private async listen() {
    const client = new pg.Client({ connectionString: this.ctx.config.DATABASE_URL })
    client.on('notification', (message) => {
      if (message.channel === CANCEL_CHANNEL) this.abortJob(message.payload ?? '')
      else this.poke()
    })
    client.on('error', (error) => {
      this.opts.log(`job listener lost its connection (${error.message}); reconnecting`)
      this.reconnectListener()
    })
    await client.connect()
    await client.query(`LISTEN ${JOBS_CHANNEL}; LISTEN ${CANCEL_CHANNEL}`)
    this.listener = client
  }

  private reconnectListener() {
    const old = this.listener
    this.listener = undefined
    void old?.end().catch(() => {})
    if (this.stopping) return
    setTimeout(() => {
      // The sweep keeps jobs moving (and catches cancellations) in the meantime.
      this.listen().then(() => this.poke(), () => this.reconnectListener())
    }, 1000).unref()
  }

  /**
   * Stops claiming, lets running jobs finish until the deadline, then interrupts the rest and
   * gives them back to the queue for another worker.
   */
  async stop(deadlineMs = 25_000): Promise<void> {
    this.stopping = true
    clearInterval(this.sweepTimer)
    const listener = this.listener
    this.listener = undefined
    await listener?.end().catch(() => {})
    // A claim under way releases what it got once it sees `stopping`.
    await this.claiming
    const all = Promise.all([...this.running.values()].map(r => r.done))
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>(resolve => setTimeout(resolve, deadlineMs, true))])
    if (timedOut) {
      const claims = [...this.running.values()].map(r => claimOf(r.job))
      for (const r of this.running.values()) r.controller.abort()
      await all
      await persistently(() => releaseJobs(this.ctx.db, claims)).catch(() => {
        // Unreleased, the jobs are still reclaimed once their leases lapse.
      })
    }
    await this.opts.uploader.close()
    clearTimeout(this.raiseTimer)
    clearTimeout(this.releaseTimer)
    await Promise.all([this.balancing, this.releasing])
  }
}

/**
 * Retries a database write through brief outages (a restarted server, a dropped connection: the
 * pool reconnects on the next attempt). Gives up after about 6 s; the lease covers the rest.
 */
async function persistently<T>(write: () => Promise<T>, attempts = 6): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write()
    } catch (error) {
      if (attempt >= attempts) throw error
      await new Promise(resolve => setTimeout(resolve, backoffMs(attempt, { baseMs: 200 })))
    }
  }
}

/**
 * Keeps the latest value and writes it at most once per interval. flush() drops what is still
 * pending and waits for writes in flight: the outcome write that follows carries the final progress.
 */
function throttle<T>(intervalMs: number, write: (value: T) => Promise<unknown>) {
  let pending: T | undefined
  let last = 0
  let timer: NodeJS.Timeout | undefined
  let inflight: Promise<unknown> = Promise.resolve()
  const send = () => {
    timer = undefined
    if (pending === undefined) return
    const value = pending
    pending = undefined
    last = Date.now()
    inflight = inflight.then(() => write(value)).catch(() => {})
  }
  return {
    push: (value: T) => {
      pending = value
      const wait = last + intervalMs - Date.now()
      if (wait <= 0) send()
      else timer ??= setTimeout(send, wait)
    },
    flush: async () => {
      clearTimeout(timer)
      timer = undefined
      pending = undefined
      await inflight
    }
  }
}

/** An error for a log line: pg reports a refused connection as an AggregateError with no message. */
function describe(error: unknown): string {
  const e = error as { message?: string, code?: string, errors?: unknown[] }
  return e.message || e.code || (e.errors?.length ? describe(e.errors[0]) : String(error))
}
