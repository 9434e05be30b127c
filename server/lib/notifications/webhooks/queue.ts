import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Webhook } from 'standardwebhooks'
import type { Db } from '#server/lib/db/client'
import type { Prisma, WebhookDelivery } from '#server/generated/prisma/client'
import type { WebhookEvent, WebhookMessageType, WebhookPayload } from '#shared/types/notifications'
import { backoffMs } from '#server/lib/backoff'
import { attemptDelivery, type AttemptResult } from './deliver'
import type { UrlPolicy } from './address'

/**
 * The webhook delivery queue, in PostgreSQL so a restart loses nothing: at least once, the same
 * `webhook-id` (the row's id) on every attempt, exponential backoff with jitter, given up after
 * `maxAttempts`. A claimed delivery's next_attempt_at is pushed a lease ahead, so one whose
 * process died mid-send is picked up again (possibly sent twice: receivers dedupe on webhook-id).
 *
 * Fair across endpoints: each endpoint has at most one attempt in flight, in all processes
 * together (its delivery_lease_until), and the loop fills its slots one endpoint at a time, least
 * recently served first, starting each attempt as soon as a slot is free. An endpoint that accepts
 * connections and never answers therefore holds one slot for the attempt timeout, whatever it has
 * queued, while everyone else's deliveries go through the other slots.
 */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** `msg_` + 26 random Crockford base32 characters, as Standard Webhooks suggests for message ids. */
export function newMessageId(): string {
  return `msg_${Array.from(randomBytes(26), b => ALPHABET[b & 31]).join('')}`
}

/** Between attempts: base·2^(attempt−1), jittered by ±20% so failed receivers are not hit in lockstep. */
export const DELIVERY_JITTER = [0.8, 1.2] as const

export async function enqueueDelivery(db: Db, endpointId: string, type: WebhookMessageType, data: unknown, now = new Date()): Promise<WebhookDelivery> {
  const payload: WebhookPayload = { type, timestamp: now.toISOString(), data }
  return db.webhookDelivery.create({
    data: { id: newMessageId(), endpointId, eventType: type, payload: payload as unknown as Prisma.InputJsonObject, status: 'pending', nextAttemptAt: now }
  })
}

/**
 * Whether the endpoint has fewer than `maxPending` deliveries pending (counting no further than
 * that). A soft cap: enqueues racing each other may pass it by a few, which is all it must bound.
 */
export async function hasRoom(db: Db, endpointId: string, maxPending: number): Promise<boolean> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (
       SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending' LIMIT $2
     ) pending`,
    [endpointId, maxPending]
  )
  return rows[0]!.n < maxPending
}

/**
 * Queues the event for each of the user's enabled endpoints that subscribe to it, except those
 * with `maxPending` deliveries already waiting (a receiver that is down or stalling): the event
 * is dropped for them. Returns how many were queued and the endpoints it was dropped for.
 */
export async function enqueueEvent(db: Db, userId: string, type: WebhookEvent, data: unknown, maxPending: number): Promise<{ queued: number, dropped: string[] }> {
  const endpoints = await db.webhookEndpoint.findMany({ where: { userId, enabled: true, events: { has: type } }, select: { id: true } })
  const now = new Date()
  const dropped: string[] = []
  for (const e of endpoints) {
    if (await hasRoom(db, e.id, maxPending)) await enqueueDelivery(db, e.id, type, data, now)
    else dropped.push(e.id)
  }
  return { queued: endpoints.length - dropped.length, dropped }
}

export interface DelivererOptions extends UrlPolicy {
  db: Db
  retryBaseMs: number
  maxAttempts: number
  /** Given-up deliveries in a row after which the endpoint is disabled. */
  disableAfterFailures: number
  log: (line: string) => void
  /** Told when an endpoint is disabled (an email to its owner). */
  onDisabled?: (endpoint: { userId: string, url: string }, reason: string) => unknown
  /** Each attempt's outcome (delivered, retry, gone, failed), for outport_notifications_total. */
  metrics?: (outcome: string) => void
  pollMs?: number
  /** Attempts in flight at once in this process (each to a different endpoint). */
  batchSize?: number
  /** Attempts in flight for one user's endpoints together, in all processes: ten tarpits of one user hold this many slots, not all. */
  perUserInFlight?: number
  /** How long a claimed delivery (and its endpoint) is reserved for this process before another may try it; longer than `timeoutMs`. */
  leaseMs?: number
  timeoutMs?: number
}

interface Claimed { id: string, endpoint_id: string, event_type: string, payload: unknown, attempts: number, url: string, secret: string, enabled: boolean, user_id: string }

export class WebhookDeliverer {
  private readonly opts: Required<Omit<DelivererOptions, 'onDisabled' | 'metrics'>> & Pick<DelivererOptions, 'onDisabled' | 'metrics'>
  private readonly stopping = new AbortController()
  private readonly inFlight = new Set<Promise<void>>()
  private loop?: Promise<void>
  private wakeUp?: () => void
  // A wake() that came while the loop was busy, so the next nap is skipped rather than missed.
  private woken = false

  constructor(options: DelivererOptions) {
    this.opts = { pollMs: 1000, batchSize: 10, perUserInFlight: 2, leaseMs: 60_000, timeoutMs: 10_000, ...options }
  }

  start(): void {
    this.loop ??= this.run()
  }

  /** Looks for due deliveries now instead of at the next poll. */
  wake(): void {
    this.woken = true
    this.wakeUp?.()
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    this.wakeUp?.()
    await this.loop
  }

  /** Keeps every slot busy: whenever one is free (an attempt ended, or a wake-up), claims more. */
  private async run(): Promise<void> {
    const { signal } = this.stopping
    while (!signal.aborted) {
      const free = this.opts.batchSize - this.inFlight.size
      try {
        if (free > 0) for (const row of await this.claim(free)) this.track(this.attempt(row))
      } catch (error) {
        this.opts.log(`webhook delivery loop: ${(error as Error).message}`)
      }
      await this.nap()
    }
    await Promise.all(this.inFlight)
  }

  private track(attempt: Promise<void>): void {
    this.inFlight.add(attempt)
    void attempt.finally(() => {
      this.inFlight.delete(attempt)
      this.wake()
    })
  }

  /** Until the poll interval has passed or wake() is called (at once if it was called meanwhile). */
  private async nap(): Promise<void> {
    if (!this.woken) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.pollMs)
        timer.unref()
        this.wakeUp = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wakeUp = undefined
    }
    this.woken = false
  }

  /** Claims one batch of due deliveries and sends them, waiting for every attempt; returns how many. */
  async tick(): Promise<number> {
    const rows = await this.claim(this.opts.batchSize)
    await Promise.all(rows.map(row => this.attempt(row)))
    return rows.length
  }

  /**
   * Up to `limit` due deliveries, each of a different endpoint that has no attempt in flight
   * anywhere. The endpoints are locked (SKIP LOCKED: another process takes others) and leased in
   * the same statement, so no two loops ever have attempts to one endpoint at once.
   */
  private async claim(limit: number): Promise<Claimed[]> {
    const { db, leaseMs, perUserInFlight } = this.opts
    // `candidates` ranks each user's ready endpoints and counts their attempts already in flight,
    // so one claim never takes more of a user's endpoints than the per-user budget leaves.
    const { rows } = await db.pool.query<Claimed>(
      `WITH candidates AS (
         SELECT e.id,
                row_number() OVER (PARTITION BY e.user_id ORDER BY e.delivery_lease_until NULLS FIRST) AS rank,
                (SELECT count(*) FROM webhook_endpoints o WHERE o.user_id = e.user_id AND o.delivery_lease_until > now()) AS busy
         FROM webhook_endpoints e
         WHERE (e.delivery_lease_until IS NULL OR e.delivery_lease_until <= now())
           AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= now())
       ), ready AS (
         SELECT e.id FROM webhook_endpoints e JOIN candidates c ON c.id = e.id
         WHERE c.rank + c.busy <= $3
           AND (e.delivery_lease_until IS NULL OR e.delivery_lease_until <= now())
         ORDER BY e.delivery_lease_until NULLS FIRST
         LIMIT $1 FOR UPDATE OF e SKIP LOCKED
       ), leased AS (
         UPDATE webhook_endpoints e SET delivery_lease_until = now() + make_interval(secs => $2::double precision / 1000)
         FROM ready WHERE e.id = ready.id
         RETURNING e.id, e.url, e.secret, e.enabled, e.user_id
       ), due AS (
         SELECT next.id FROM ready CROSS JOIN LATERAL (
           SELECT d.id FROM webhook_deliveries d
           WHERE d.endpoint_id = ready.id AND d.status = 'pending' AND d.next_attempt_at <= now()
           ORDER BY d.next_attempt_at, d.id LIMIT 1
         ) next
       )
       UPDATE webhook_deliveries d
       SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
       FROM due, leased
       WHERE d.id = due.id AND leased.id = d.endpoint_id
       RETURNING d.id, d.endpoint_id, d.event_type, d.payload, d.attempts, leased.url, leased.secret, leased.enabled, leased.user_id`,
      [limit, leaseMs, perUserInFlight]
    )
    return rows
  }

  /** One attempt, recorded; then the endpoint is free for its next one. */
  private async attempt(row: Claimed): Promise<void> {
    try {
      await this.deliver(row)
    } catch (error) {
      this.opts.log(`webhook delivery ${row.id}: ${(error as Error).message}`)
    } finally {
      await this.opts.db.pool.query('UPDATE webhook_endpoints SET delivery_lease_until = now() WHERE id = $1', [row.endpoint_id])
        .catch((error: Error) => this.opts.log(`webhook endpoint ${row.endpoint_id}: lease not released (${error.message}); it lapses by itself`))
    }
  }

  private async deliver(row: Claimed): Promise<void> {
    const { db } = this.opts
    if (!row.enabled) {
      await db.webhookDelivery.update({ where: { id: row.id }, data: { status: 'failed', lastError: 'endpoint disabled' } })
      return
    }
    const body = JSON.stringify(row.payload)
    const now = new Date()
    // Signed afresh per attempt (the timestamp is the attempt's), with the same id every time.
    const signature = new Webhook(row.secret).sign(row.id, now, body)
    const result = await attemptDelivery(row.url, {
      'webhook-id': row.id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature
    }, body, { allowHosts: this.opts.allowHosts, timeoutMs: this.opts.timeoutMs })
    await this.record(row, result)
  }

  private async record(row: Claimed, result: AttemptResult): Promise<void> {
    const { db, maxAttempts, retryBaseMs, disableAfterFailures } = this.opts
    const last = { lastStatusCode: result.statusCode, lastError: result.error, lastLatencyMs: result.latencyMs }
    this.opts.metrics?.(result.ok ? 'delivered' : result.statusCode === 410 ? 'gone' : row.attempts < maxAttempts ? 'retry' : 'failed')
    if (result.ok) {
      await db.$transaction([
        db.webhookDelivery.update({ where: { id: row.id }, data: { ...last, status: 'delivered', deliveredAt: new Date() } }),
        db.webhookEndpoint.update({ where: { id: row.endpoint_id }, data: { consecutiveFailures: 0 } })
      ])
      return
    }
    if (result.statusCode === 410) {
      // The receiver says the endpoint is gone for good: stop sending there at all.
      await db.webhookDelivery.update({ where: { id: row.id }, data: { ...last, status: 'failed' } })
      await this.disable(row, 'the receiver answered 410 Gone')
      return
    }
    if (row.attempts < maxAttempts) {
      await db.webhookDelivery.update({ where: { id: row.id }, data: { ...last, nextAttemptAt: new Date(Date.now() + backoffMs(row.attempts, { baseMs: retryBaseMs, jitter: DELIVERY_JITTER })) } })
      return
    }
    await db.webhookDelivery.update({ where: { id: row.id }, data: { ...last, status: 'failed' } })
    const endpoint = await db.webhookEndpoint.update({ where: { id: row.endpoint_id }, data: { consecutiveFailures: { increment: 1 } } })
    if (endpoint.consecutiveFailures >= disableAfterFailures) {
      await this.disable(row, `${endpoint.consecutiveFailures} deliveries in a row failed after ${maxAttempts} attempts each`)
    }
  }

  private async disable(row: Claimed, reason: string): Promise<void> {
    const { db, log, onDisabled } = this.opts
    const { count } = await db.webhookEndpoint.updateMany({ where: { id: row.endpoint_id, enabled: true }, data: { enabled: false, disabledReason: reason } })
    if (count === 0) return
    // Whatever was still queued for it will not be sent.
    await db.webhookDelivery.updateMany({ where: { endpointId: row.endpoint_id, status: 'pending' }, data: { status: 'failed', lastError: 'endpoint disabled' } })
    log(`webhook endpoint ${row.endpoint_id} disabled: ${reason}`)
    await onDisabled?.({ userId: row.user_id, url: row.url }, reason)
  }

  /** Waits up to `ms` for the loop to have nothing due (tests). */
  static async idle(db: Db, ms: number): Promise<void> {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      const { rows } = await db.pool.query('SELECT 1 FROM webhook_deliveries WHERE status = \'pending\' LIMIT 1')
      if (!rows.length) return
      await sleep(50)
    }
  }
}
