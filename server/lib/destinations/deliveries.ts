import { setTimeout as sleep } from 'node:timers/promises'
import { Readable } from 'node:stream'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import type { Db } from '#server/lib/db/client'
import type { Storage } from '#server/lib/storage/s3'
import type { LogFn } from '#server/lib/log'
import type { Metrics } from '#server/lib/metrics'
import { recordAuditEvent } from '#server/lib/audit'
import { backoffMs } from '#server/lib/backoff'
import { isActiveStatus } from '#shared/types/jobs'
import { claimDueDeliveries, createDeliveryRows, failDeliveriesOfGoneFiles, firstDeliveryAttemptsDone, type ClaimedDelivery } from '#server/lib/exports/jobs/deliveries'
import { findExport } from '#server/lib/exports/jobs/history'
import type { ExportJob } from '#server/lib/exports/jobs/record'
import { fileContentType } from '#shared/types/formats'
import { exportManifestFilename } from '#shared/utils/filename'
import { DESTINATION_CONFIG_SCHEMAS, type DeliveryStatus, type DestinationType, type ExportDeliveryDTO } from '#shared/types/destinations'
import type { ExportDelivery } from '#server/generated/prisma/client'
import { loadDriver } from './drivers'
import { describe, DestinationError, type DriverDeps, type FileSource } from './drivers/driver'
import { externalIdOf, openDestination } from './store'
import { renderPath, templateValues } from './template'

/**
 * Deliveries of export files to destinations, in PostgreSQL so a restart loses nothing. A
 * completed job with `destination_ids` gets one `export_deliveries` row per destination (made when
 * the worker finishes it, and by the sweep for a process that died first). A delivery is claimed
 * with a lease and a fencing token (claim_id): a process that dies mid-transfer leaves a lapsed
 * lease, and the next claim takes the delivery again. Each attempt streams the object (a multi-part
 * export's parts, then its manifest) from Outport's bucket (the query never runs again); a failure
 * is retried with backoff up to `maxAttempts`, and the job stays completed whatever happens here.
 */

/** How this process reaches destinations: the URL rules, DESTINATIONS_STS_ENDPOINT, the idle timeout. */
export interface DriverOptions { allowHosts: readonly string[], stsEndpoint?: string, timeoutMs?: number }

/** What a driver needs to reach a destination for this user. */
export function driverDeps(opts: DriverOptions, userId: string, externalId: string): DriverDeps {
  return { allowHosts: opts.allowHosts, externalId, stsEndpoint: opts.stsEndpoint, sessionName: `outport-${userId.slice(0, 8)}`, timeoutMs: opts.timeoutMs ?? 30_000 }
}

/** Between attempts: base·2^(attempt−1), ±20%. */
const JITTER = [0.8, 1.2] as const

/** Makes the delivery rows of completed jobs that asked for destinations (see createDeliveryRows). */
export const createDeliveries = createDeliveryRows

export function toDeliveryDTO(row: ExportDelivery): ExportDeliveryDTO {
  return {
    destination_id: row.destinationId,
    name: row.name,
    type: row.type as DestinationType,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    location: row.location,
    error: row.error,
    delivered_at: row.deliveredAt?.toISOString() ?? null,
    next_attempt_at: row.status === 'pending' ? row.nextAttemptAt.toISOString() : null
  }
}

/**
 * Each job's deliveries for its DTO. A job that asked for destinations and has no rows yet (still
 * running, or just completed) shows them as pending, by the destinations' current names.
 */
export async function deliveriesByJob(db: Db, jobs: ExportJob[]): Promise<Map<string, ExportDeliveryDTO[]>> {
  const result = new Map<string, ExportDeliveryDTO[]>()
  const asked = jobs.filter(j => j.metadata.destination_ids?.length)
  if (!asked.length) return result
  const rows = await db.exportDelivery.findMany({ where: { jobId: { in: asked.map(j => j.id) } }, orderBy: [{ jobId: 'asc' }, { position: 'asc' }] })
  for (const row of rows) result.set(row.jobId, [...result.get(row.jobId) ?? [], toDeliveryDTO(row)])
  const waiting = asked.filter(j => !result.has(j.id) && (isActiveStatus(j.status) || j.status === 'completed'))
  if (waiting.length) {
    const ids = [...new Set(waiting.flatMap(j => j.metadata.destination_ids!))]
    const destinations = new Map((await db.destination.findMany({ where: { id: { in: ids } }, select: { id: true, name: true, type: true, userId: true } })).map(d => [d.id, d]))
    for (const job of waiting) {
      result.set(job.id, job.metadata.destination_ids!.flatMap((id) => {
        const d = destinations.get(id)
        if (!d || d.userId !== job.userId) return []
        return [{ destination_id: d.id, name: d.name, type: d.type as DestinationType, status: 'pending' as const, attempts: 0, location: null, error: null, delivered_at: null, next_attempt_at: null }]
      }))
    }
  }
  return result
}

export async function deliveriesOfJob(db: Db, job: ExportJob): Promise<ExportDeliveryDTO[]> {
  return (await deliveriesByJob(db, [job])).get(job.id) ?? []
}

export interface DelivererOptions {
  db: Db
  storage: Storage
  key: Buffer
  allowHosts: readonly string[]
  /** DESTINATIONS_STS_ENDPOINT */
  stsEndpoint?: string
  maxAttempts: number
  retryBaseMs: number
  log: LogFn
  metrics?: Pick<Metrics, 'delivery'>
  /** Every delivery of the job is delivered or failed: its notifications can say so. */
  onJobSettled?: (jobId: string) => unknown
  pollMs?: number
  /** Deliveries in flight at once in this process. */
  concurrency?: number
  /** How long a claim holds a delivery before another process may take it; renewed while it runs. */
  leaseMs?: number
  /** A connection that moves nothing for this long fails. */
  timeoutMs?: number
}

type Claimed = ClaimedDelivery

export class DestinationDeliverer {
  private readonly opts: Required<Omit<DelivererOptions, 'metrics' | 'onJobSettled' | 'stsEndpoint'>> & Pick<DelivererOptions, 'metrics' | 'onJobSettled' | 'stsEndpoint'>
  private readonly inFlight = new Set<Promise<void>>()
  private timer?: NodeJS.Timeout
  private sweepTimer?: NodeJS.Timeout
  private ticking?: Promise<void>
  private stopped = false

  constructor(options: DelivererOptions) {
    this.opts = { pollMs: 2000, concurrency: 2, leaseMs: 120_000, timeoutMs: 30_000, ...options }
  }

  start(): void {
    if (this.timer || this.stopped) return
    this.timer = setInterval(() => this.wake(), this.opts.pollMs)
    this.timer.unref()
    // Jobs whose process died between completing them and making their deliveries.
    const sweep = () => void createDeliveries(this.opts.db, { lookbackMs: 24 * 3600_000 })
      .then(made => made && this.wake(), (error: Error) => this.opts.log(`destination deliveries sweep: ${error.message}`))
    this.sweepTimer = setInterval(sweep, 60_000)
    this.sweepTimer.unref()
    sweep()
    this.wake()
  }

  /** A job completed here: its deliveries are made and started now rather than at the next sweep. */
  async jobCompleted(jobId: string): Promise<void> {
    if (await createDeliveries(this.opts.db, { jobId })) this.wake()
  }

  /** Looks for due deliveries now (a job just completed). */
  wake(): void {
    // Not before start(): tests drive tick() themselves.
    if (this.stopped || !this.timer || this.ticking) return
    this.ticking = this.fill().catch((error: Error) => this.opts.log(`destination deliveries: ${error.message}`)).finally(() => {
      this.ticking = undefined
    })
  }

  /** Stops claiming and waits for the deliveries under way (their leases keep them safe if cut short). */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    clearInterval(this.sweepTimer)
    await this.ticking
    await Promise.allSettled([...this.inFlight])
  }

  /** Claims due deliveries and runs them, waiting for all (tests, and the sweep without a loop). */
  async tick(): Promise<number> {
    const rows = await this.claim(this.opts.concurrency)
    await Promise.all(rows.map(row => this.attempt(row)))
    return rows.length
  }

  private async fill(): Promise<void> {
    await this.failOrphans()
    const free = this.opts.concurrency - this.inFlight.size
    if (free <= 0) return
    for (const row of await this.claim(free)) {
      const attempt = this.attempt(row).finally(() => {
        this.inFlight.delete(attempt)
        this.wake()
      })
      this.inFlight.add(attempt)
    }
  }

  /** Deliveries whose job lost its file (expired, deleted) before they went out: failed, settling the job. */
  private async failOrphans(): Promise<void> {
    for (const jobId of await failDeliveriesOfGoneFiles(this.opts.db)) await this.settled(jobId)
  }

  private claim(limit: number): Promise<Claimed[]> {
    return claimDueDeliveries(this.opts.db, limit, this.opts.leaseMs)
  }

  private async attempt(row: Claimed): Promise<void> {
    const { db, leaseMs, log } = this.opts
    const started = performance.now()
    const renew = setInterval(() => {
      db.pool.query('UPDATE export_deliveries SET lease_until = now() + make_interval(secs => $3::double precision / 1000) WHERE id = $1 AND claim_id = $2', [row.id, row.claim_id, leaseMs])
        .catch(() => { /* the next beat retries; the lease outlives several */ })
    }, leaseMs / 3)
    renew.unref()
    let outcome: { ok: true, location: string, bytes: number } | { ok: false, error: string }
    const job = await findExport(db, row.job_id)
    try {
      outcome = { ok: true, ...await this.deliver(row, job) }
    } catch (error) {
      outcome = { ok: false, error: error instanceof DestinationError ? error.message : describe(error) }
    } finally {
      clearInterval(renew)
    }
    const seconds = (performance.now() - started) / 1000
    try {
      await this.record(row, job, outcome, seconds)
    } catch (error) {
      log(`delivery ${row.id}: could not record the outcome (${(error as Error).message}); it is tried again after its lease`, { job_id: row.job_id })
    }
  }

  private async deliver(row: Claimed, job: ExportJob | null): Promise<{ location: string, bytes: number }> {
    const { db, storage } = this.opts
    if (!job?.metadata.s3_key || !job.completedAt) throw new DestinationError('The export has no file to deliver')
    if (!row.destination_id) throw new DestinationError('The destination was deleted')
    const saved = await db.destination.findUnique({ where: { id: row.destination_id } })
    if (!saved || saved.userId !== job.userId) throw new DestinationError('The destination was deleted')
    const destination = openDestination(saved, this.opts.key)
    const driver = await loadDriver(destination.type)
    const config = DESTINATION_CONFIG_SCHEMAS[destination.type].parse(destination.config) as Record<string, unknown>
    const template = (destination.type === 'sftp' ? config.path : config.prefix) as string
    const values = templateValues(job, job.completedAt)
    const at = (filename: string) => renderPath(template, { ...values, filename }, { absolute: driver.absolutePaths })
    const { metadata } = job
    const contentType = fileContentType(metadata.format, metadata.compression ?? 'none')
    const get = (key: string) => storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }))
    const open = async (key: string) => (await get(key)).Body as Readable
    const deps = driverDeps(this.opts, job.userId, destination.type === 's3' ? await externalIdOf(db, job.userId) : '')
    const send = (path: string, source: FileSource) => driver.deliver(config as never, destination.credentials as never, path, source, deps)
    if (!metadata.parts) return send(at(values.filename), { size: metadata.file_size_bytes ?? 0, contentType, open: () => open(metadata.s3_key!) })
    // Every part, then the manifest: a reader that waits for the manifest never sees an incomplete
    // set. A retry writes the parts again (same paths), so a part that arrived before is replaced.
    let bytes = 0
    for (const part of metadata.parts) bytes += (await send(at(part.filename), { size: part.bytes, contentType, open: () => open(part.key) })).bytes
    // Small JSON whose size no record holds: read whole, so the driver can check it.
    const manifest = Buffer.from(await (await get(metadata.s3_key!)).Body!.transformToByteArray())
    const written = await send(at(exportManifestFilename(metadata)), { size: manifest.length, contentType: 'application/json', open: async () => Readable.from([manifest]) })
    return { location: written.location, bytes: bytes + written.bytes }
  }

  private async record(row: Claimed, job: ExportJob | null, outcome: { ok: true, location: string, bytes: number } | { ok: false, error: string }, seconds: number): Promise<void> {
    const { db, maxAttempts, retryBaseMs, log, metrics } = this.opts
    const fields = { job_id: row.job_id, user_id: job?.userId, destination_type: row.type }
    let status: DeliveryStatus
    if (outcome.ok) {
      status = 'delivered'
      const { rowCount } = await db.pool.query(
        `UPDATE export_deliveries SET status = 'delivered', location = $3, bytes = $4, error = NULL, delivered_at = now(), lease_until = NULL
         WHERE id = $1 AND claim_id = $2`, [row.id, row.claim_id, outcome.location, outcome.bytes])
      if (!rowCount) return
      metrics?.delivery(row.type, 'delivered', seconds, outcome.bytes)
      log(`delivered job ${row.job_id} to ${outcome.location} (attempt ${row.attempts})`, { ...fields, level: 'info' })
    } else {
      const again = row.attempts < maxAttempts && outcome.error !== 'The destination was deleted'
      status = again ? 'pending' : 'failed'
      const next = new Date(Date.now() + backoffMs(row.attempts, { baseMs: retryBaseMs, jitter: JITTER }))
      const { rowCount } = await db.pool.query(
        `UPDATE export_deliveries SET status = $3, error = $4, next_attempt_at = $5, lease_until = NULL WHERE id = $1 AND claim_id = $2`,
        [row.id, row.claim_id, status, outcome.error, next])
      if (!rowCount) return
      metrics?.delivery(row.type, again ? 'retry' : 'failed', seconds)
      log(`delivery of job ${row.job_id} to ${row.name} failed (attempt ${row.attempts} of ${maxAttempts}${again ? ', will retry' : ', given up'}): ${outcome.error}`, fields)
    }
    if (job && status !== 'pending') {
      await recordAuditEvent(db, {
        userId: job.userId,
        action: status === 'delivered' ? 'export.delivered' : 'export.delivery_failed',
        objectId: job.id,
        details: { destination_id: row.destination_id, destination: row.name, type: row.type, attempts: row.attempts, ...(outcome.ok ? { location: outcome.location, bytes: outcome.bytes } : { error: outcome.error }) }
      }, { log })
    }
    await this.settled(row.job_id)
  }

  /** Tells the notifications once every delivery of the job has had its first attempt (see FIRST_DELIVERY_ATTEMPTS_DONE). */
  private async settled(jobId: string): Promise<void> {
    if (await firstDeliveryAttemptsDone(this.opts.db, jobId)) await this.opts.onJobSettled?.(jobId)
  }

  /** Waits up to `ms` for no delivery to be pending or under way (tests). */
  static async idle(db: Db, ms: number): Promise<void> {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      const { rows } = await db.pool.query('SELECT 1 FROM export_deliveries WHERE status IN (\'pending\', \'delivering\') LIMIT 1')
      if (!rows.length) return
      await sleep(50)
    }
  }
}
