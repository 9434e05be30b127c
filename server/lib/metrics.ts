import { createHash, timingSafeEqual } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { JOB_STATUSES, type JobStatus } from '#shared/types/jobs'
import type { LogFn } from './log'

/**
 * The process's Prometheus metrics, served by `GET /metrics` (server/routes/metrics.get.ts). One
 * Registry per Metrics instance, never prom-client's global one: tests build as many as they like,
 * and no library can slip its own metrics into ours.
 *
 * Counters and histograms are this process's; gauges read at scrape time (jobs by status, DuckDB
 * memory) describe shared state, so every process reports the same queue: aggregate them with
 * max(), not sum().
 */

/** What the export worker reports (server/lib/exports/worker.ts takes one as its `metrics`). */
export interface WorkerMetrics {
  /** A job was claimed: from the queue after `pickupSeconds`, or taken over from a worker whose lease lapsed. */
  claimed: (claim: { reclaimed: boolean, pickupSeconds: number }) => void
  completed: (run: { format: string, seconds: number, rows: number, bytes: number }) => void
  /** `retry`: another attempt follows. Without `seconds` (a job failed for a lost worker) no duration is observed. */
  failed: (run: { code: string, retry: boolean, format?: string, seconds?: number }) => void
}

/** What the orphan sweep reports (server/lib/exports/orphans.ts takes one as its `metrics`). */
export interface OrphanMetrics {
  /** Objects under exports/ that no live job owns, old enough to delete. */
  found: (count: number) => void
  deleted: (count: number) => void
}

/** What a notifier reports: one call per notification it decided about. */
export type NotificationMetrics = (channel: string, outcome: string) => void

export interface MetricsSources {
  /** Jobs by status across the whole queue, read at each scrape. */
  jobCounts?: () => Promise<Partial<Record<JobStatus, number>>>
  /** Memory DuckDB holds in this process, read at each scrape (undefined: no instance open). */
  duckdbMemoryBytes?: () => Promise<number | undefined>
  log?: LogFn
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE

// Seconds. Exports run from well under a second (small aggregates) to minutes (10M rows).
const EXPORT_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]
// Pickup is milliseconds when a notification wakes the worker, up to the sweep interval (5 s) without.
const PICKUP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const LOOP_QUANTILES = [0.5, 0.9, 0.99, 1]
const LOOP_RESOLUTION_MS = 10

export class Metrics {
  readonly registry = new Registry()
  readonly worker: WorkerMetrics
  readonly notification: NotificationMetrics
  readonly orphans: OrphanMetrics
  private readonly loop: ReturnType<typeof monitorEventLoopDelay>

  private readonly exportDuration: Histogram<'format' | 'outcome'>
  private readonly exportRows: Counter<'format'>
  private readonly exportBytes: Counter<'format'>
  private readonly exportFailures: Counter<'code' | 'retry'>
  private readonly pickup: Histogram
  private readonly reclaims: Counter
  private readonly orphansFound: Counter
  private readonly orphansDeleted: Counter
  private readonly notifications: Counter<'channel' | 'outcome'>
  private readonly http: Histogram<'route' | 'method' | 'status'>
  private readonly auditFailures: Counter<'action'>
  private readonly deliveries: Counter<'type' | 'outcome'>
  private readonly deliveryBytes: Counter<'type'>
  private readonly deliveryDuration: Histogram<'type' | 'outcome'>

  constructor(private readonly sources: MetricsSources = {}) {
    const registers = [this.registry]
    const log = sources.log ?? (() => {})

    new Gauge({
      name: 'outport_jobs',
      help: 'Export jobs by status, across the queue (read from PostgreSQL at each scrape).',
      labelNames: ['status'],
      registers,
      async collect() {
        this.reset()
        if (!sources.jobCounts) return
        try {
          const counts = await sources.jobCounts()
          // Every status, zeros included: a series that vanishes at 0 breaks rate() and alerts.
          for (const status of Object.keys(JOB_STATUSES) as JobStatus[]) this.set({ status }, counts[status] ?? 0)
        } catch (error) {
          // No samples rather than stale ones; the scrape itself still succeeds.
          log(`metrics: could not count jobs: ${(error as Error).message}`)
        }
      }
    })
    this.exportDuration = new Histogram({
      name: 'outport_export_duration_seconds',
      help: 'Time from claim to outcome of one export attempt, by format and outcome (completed, failed, retried).',
      labelNames: ['format', 'outcome'],
      buckets: EXPORT_BUCKETS,
      registers
    })
    this.exportRows = new Counter({ name: 'outport_export_rows_total', help: 'Rows written by completed exports.', labelNames: ['format'], registers })
    this.exportBytes = new Counter({ name: 'outport_export_bytes_total', help: 'Bytes uploaded by completed exports.', labelNames: ['format'], registers })
    this.exportFailures = new Counter({
      name: 'outport_export_failures_total',
      help: 'Failed export attempts by error code; retry="true" when another attempt follows.',
      labelNames: ['code', 'retry'],
      registers
    })
    this.pickup = new Histogram({
      name: 'outport_job_pickup_seconds',
      help: 'Time from when a job became due (created, or its retry time) to its claim by a worker.',
      buckets: PICKUP_BUCKETS,
      registers
    })
    this.reclaims = new Counter({ name: 'outport_lease_reclaims_total', help: 'Running jobs taken over after their worker\'s lease lapsed.', registers })
    this.orphansFound = new Counter({
      name: 'outport_export_orphans_found_total',
      help: 'Objects under exports/ older than an hour that no live job owns, found by the orphan sweep.',
      registers
    })
    this.orphansDeleted = new Counter({ name: 'outport_export_orphans_deleted_total', help: 'Orphaned export objects the sweep deleted.', registers })
    this.notifications = new Counter({
      name: 'outport_notifications_total',
      help: 'Notification decisions by channel (telegram, email, webhook, slack) and outcome (sent, queued, failed, not-wanted, unlinked, not-linked, already-notified, error; webhook attempts: delivered, retry, gone, failed; dropped: an event not queued for an endpoint with WEBHOOK_MAX_PENDING_PER_ENDPOINT pending).',
      labelNames: ['channel', 'outcome'],
      registers
    })
    this.http = new Histogram({
      name: 'outport_http_request_duration_seconds',
      help: 'HTTP requests by matched route pattern (never the raw path), method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: HTTP_BUCKETS,
      registers
    })

    this.auditFailures = new Counter({
      name: 'outport_audit_write_failures_total',
      help: 'Audit events that could not be written (the action went ahead), by action.',
      labelNames: ['action'],
      registers
    })

    this.deliveries = new Counter({
      name: 'outport_destination_deliveries_total',
      help: 'Delivery attempts to destinations by type (s3, azure_blob, sftp) and outcome (delivered, retry, failed).',
      labelNames: ['type', 'outcome'],
      registers
    })
    this.deliveryBytes = new Counter({ name: 'outport_destination_bytes_total', help: 'Bytes delivered to destinations, by type.', labelNames: ['type'], registers })
    this.deliveryDuration = new Histogram({
      name: 'outport_destination_delivery_duration_seconds',
      help: 'How long a delivery attempt took, by type and outcome.',
      labelNames: ['type', 'outcome'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800],
      registers
    })

    const loop = this.loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
    loop.enable()
    new Gauge({
      name: 'outport_event_loop_delay_seconds',
      help: 'Event-loop delay since the previous scrape, by quantile (1 = the maximum).',
      labelNames: ['quantile'],
      registers,
      collect() {
        // Node's samples are whole timer intervals: an idle loop reads as the resolution itself.
        for (const q of LOOP_QUANTILES) this.set({ quantile: String(q) }, Math.max(0, (q === 1 ? loop.max : loop.percentile(q * 100)) / 1e6 - LOOP_RESOLUTION_MS) / 1000 || 0)
        loop.reset()
      }
    })
    new Gauge({
      name: 'outport_duckdb_memory_bytes',
      help: 'Memory DuckDB holds in this process (sum of duckdb_memory(); 0 while the warehouse is not open).',
      registers,
      async collect() {
        this.reset()
        if (!sources.duckdbMemoryBytes) return
        try {
          // No instance open: DuckDB holds nothing.
          this.set(await sources.duckdbMemoryBytes() ?? 0)
        } catch (error) {
          log(`metrics: could not read DuckDB memory: ${(error as Error).message}`)
        }
      }
    })
    new Gauge({
      name: 'outport_process_memory_bytes',
      help: 'Where this process\'s memory is, by kind: V8 heap used and reserved, and memory outside it (Buffers, ArrayBuffers).',
      labelNames: ['kind'],
      registers,
      collect() {
        const usage = process.memoryUsage()
        this.set({ kind: 'heap_used' }, usage.heapUsed)
        this.set({ kind: 'heap_total' }, usage.heapTotal)
        this.set({ kind: 'external' }, usage.external)
        this.set({ kind: 'array_buffers' }, usage.arrayBuffers)
      }
    })
    new Gauge({
      name: 'outport_process_resident_memory_bytes',
      help: 'Resident set size of this process.',
      registers,
      collect() {
        this.set(process.memoryUsage.rss())
      }
    })

    this.worker = {
      claimed: ({ reclaimed, pickupSeconds }) => {
        if (reclaimed) this.reclaims.inc()
        else this.pickup.observe(Math.max(0, pickupSeconds))
      },
      completed: ({ format, seconds, rows, bytes }) => {
        this.exportDuration.observe({ format, outcome: 'completed' }, seconds)
        this.exportRows.inc({ format }, rows)
        this.exportBytes.inc({ format }, bytes)
      },
      failed: ({ format, code, retry, seconds }) => {
        if (format && seconds !== undefined) this.exportDuration.observe({ format, outcome: retry ? 'retried' : 'failed' }, seconds)
        this.exportFailures.inc({ code, retry: String(retry) })
      }
    }
    this.notification = (channel, outcome) => this.notifications.inc({ channel, outcome })
    this.orphans = {
      found: count => this.orphansFound.inc(count),
      deleted: count => this.orphansDeleted.inc(count)
    }
  }

  /** `route`: the matched route pattern (`/api/analytics/exports/:id`), so ids never become labels. */
  httpRequest(request: { route: string, method: string, status: number, seconds: number }): void {
    this.http.observe({ route: request.route, method: request.method, status: String(request.status) }, request.seconds)
  }

  /** An audit event could not be written; `action` is one of the few names in shared/types/audit.ts. */
  auditWriteFailed(action: string): void {
    this.auditFailures.inc({ action })
  }

  /** One delivery attempt to a destination: its outcome, duration and (delivered) bytes. */
  delivery(type: string, outcome: 'delivered' | 'retry' | 'failed', seconds: number, bytes = 0): void {
    this.deliveries.inc({ type, outcome })
    this.deliveryDuration.observe({ type, outcome }, seconds)
    if (outcome === 'delivered') this.deliveryBytes.inc({ type }, bytes)
  }

  /** The exposition text, gauges read now. */
  scrape(): Promise<string> {
    return this.registry.metrics()
  }

  close(): void {
    this.loop.disable()
  }
}

/**
 * Who may scrape: `disabled` without METRICS_TOKEN (the route then answers 404, as if it did not
 * exist), `allowed` for `Authorization: Bearer <METRICS_TOKEN>`, `denied` otherwise (401). The
 * token is compared as SHA-256 digests with timingSafeEqual, so neither its content nor its length
 * leaks through timing.
 */
export function metricsAccess(token: string | undefined, authorization: string | undefined): 'disabled' | 'allowed' | 'denied' {
  if (!token) return 'disabled'
  const presented = /^Bearer[ \t]+(\S+)\s*$/i.exec(authorization ?? '')?.[1]
  if (!presented) return 'denied'
  const digest = (value: string) => createHash('sha256').update(value).digest()
  return timingSafeEqual(digest(presented), digest(token)) ? 'allowed' : 'denied'
}
