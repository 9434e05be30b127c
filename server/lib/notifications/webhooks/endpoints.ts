import { randomBytes } from 'node:crypto'
import type { RateLimiterPostgres } from 'rate-limiter-flexible'
import type { Db } from '#server/lib/db/client'
import { postgresLimiter, takePoint } from '#server/lib/rate-limit'
import { RequestError, ValidationError } from '#server/lib/validation'
import { isUuid } from '#shared/utils/uuid'
import type { CreateWebhook, CreatedWebhookDTO, WebhookDeliveryDTO, WebhookDeliveryStatus, WebhookEndpointDTO, WebhookEvent, WebhookMessageType } from '#shared/types/notifications'
import type { WebhookDelivery, WebhookEndpoint } from '#server/generated/prisma/client'
import { UnsafeUrlError, vetUrl, type UrlPolicy } from './address'
import { enqueueDelivery, hasRoom } from './queue'

/** A user's webhook endpoints: created, listed, deleted, tested; always scoped to the user (another user's is a 404). */

export function toEndpointDTO(e: WebhookEndpoint): WebhookEndpointDTO {
  return {
    id: e.id,
    url: e.url,
    events: e.events as WebhookEvent[],
    description: e.description,
    enabled: e.enabled,
    disabled_reason: e.disabledReason,
    created_at: e.createdAt.toISOString()
  }
}

export function toDeliveryDTO(d: WebhookDelivery): WebhookDeliveryDTO {
  return {
    id: d.id,
    event: d.eventType as WebhookMessageType,
    status: d.status as WebhookDeliveryStatus,
    attempts: d.attempts,
    status_code: d.lastStatusCode,
    latency_ms: d.lastLatencyMs,
    error: d.lastError,
    created_at: d.createdAt.toISOString(),
    delivered_at: d.deliveredAt?.toISOString() ?? null,
    next_attempt_at: d.status === 'pending' ? d.nextAttemptAt.toISOString() : null
  }
}

/** Standard Webhooks secrets: `whsec_` + base64 of 24 random bytes. */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`
}

export interface EndpointLimits extends UrlPolicy { maxPerUser: number }

export async function createEndpoint(db: Db, userId: string, input: CreateWebhook, limits: EndpointLimits): Promise<CreatedWebhookDTO> {
  try {
    await vetUrl(input.url, limits)
  } catch (error) {
    if (error instanceof UnsafeUrlError) throw new ValidationError([{ field: 'url', message: `The URL ${error.message}` }])
    throw error
  }
  // Counted and inserted under a per-user lock, so two parallel requests cannot both take the last place.
  const endpoint = await db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('outport_webhooks'), hashtext(${userId}))`
    const count = await tx.webhookEndpoint.count({ where: { userId } })
    if (count >= limits.maxPerUser) throw new RequestError(409, `At most ${limits.maxPerUser} webhook endpoints per user; delete one first`)
    return tx.webhookEndpoint.create({ data: { userId, url: input.url, secret: newSecret(), events: input.events, description: input.description ?? null } })
  })
  return { ...toEndpointDTO(endpoint), secret: endpoint.secret }
}

export async function listEndpoints(db: Db, userId: string): Promise<WebhookEndpointDTO[]> {
  const rows = await db.webhookEndpoint.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } })
  return rows.map(toEndpointDTO)
}

export async function findEndpoint(db: Db, userId: string, id: unknown): Promise<WebhookEndpoint> {
  const endpoint = isUuid(id) ? await db.webhookEndpoint.findFirst({ where: { id: id.toLowerCase(), userId } }) : null
  if (!endpoint) throw new RequestError(404, 'Webhook not found')
  return endpoint
}

/** Deletes the user's endpoint and answers what it was. */
export async function deleteEndpoint(db: Db, userId: string, id: unknown): Promise<WebhookEndpointDTO> {
  const endpoint = await findEndpoint(db, userId, id)
  await db.webhookEndpoint.delete({ where: { id: endpoint.id } })
  return toEndpointDTO(endpoint)
}

/** Where an endpoint sends, as the audit trail and account alerts name it: the host, never the path or query (they may hold a secret). */
export function endpointHost(url: string): string {
  return new URL(url).host
}

/**
 * What a user may queue by hand (test pings and redeliveries): WEBHOOK_MANUAL_SENDS_PER_MINUTE per
 * user, counted in PostgreSQL across processes (then 429 with Retry-After), and only while the
 * endpoint has fewer than WEBHOOK_MAX_PENDING_PER_ENDPOINT deliveries waiting (else 409).
 */
export class ManualSends {
  private readonly perUser: RateLimiterPostgres

  constructor(private readonly db: Db, private readonly limits: { perMinute: number, maxPendingPerEndpoint: number }) {
    // Created by the migration 20261214100000_webhook_fairness.
    this.perUser = postgresLimiter(db, { tableName: 'webhook_send_rate_limits', keyPrefix: 'send', points: limits.perMinute, durationSeconds: 60 })
  }

  async take(userId: string, endpointId: string): Promise<void> {
    await takePoint(this.perUser, userId, seconds => new RequestError(429, `Too many test pings and redeliveries; try again in ${seconds} s`, { retryAfterSeconds: seconds }))
    const max = this.limits.maxPendingPerEndpoint
    if (!await hasRoom(this.db, endpointId, max)) throw new RequestError(409, `This endpoint already has ${max} deliveries waiting; try again once they are sent or given up`)
  }
}

/** Queues a `ping` to the endpoint (even a disabled one? no: enabled only, so it says what will really happen). */
export async function sendTest(db: Db, userId: string, id: unknown, sends: ManualSends): Promise<WebhookDeliveryDTO> {
  const endpoint = await findEndpoint(db, userId, id)
  if (!endpoint.enabled) throw new RequestError(409, `This endpoint is disabled${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ''}; create it again to use it`)
  await sends.take(userId, endpoint.id)
  const delivery = await enqueueDelivery(db, endpoint.id, 'ping', { endpoint_id: endpoint.id, message: 'Hello from Outport' })
  return toDeliveryDTO(delivery)
}

export async function listDeliveries(db: Db, userId: string, id: unknown, limit = 50): Promise<WebhookDeliveryDTO[]> {
  const endpoint = await findEndpoint(db, userId, id)
  const rows = await db.webhookDelivery.findMany({ where: { endpointId: endpoint.id }, orderBy: { createdAt: 'desc' }, take: limit })
  return rows.map(toDeliveryDTO)
}

/** Sends a delivery again, with the same webhook-id (the receiver may deduplicate on it) and a fresh attempt budget. */
export async function redeliver(db: Db, userId: string, id: unknown, deliveryId: unknown, sends: ManualSends): Promise<WebhookDeliveryDTO> {
  const endpoint = await findEndpoint(db, userId, id)
  if (!endpoint.enabled) throw new RequestError(409, 'This endpoint is disabled; create it again to use it')
  if (typeof deliveryId !== 'string' || !/^msg_[A-Za-z0-9]{1,64}$/.test(deliveryId)) throw new RequestError(404, 'Delivery not found')
  await sends.take(userId, endpoint.id)
  const { count } = await db.webhookDelivery.updateMany({
    where: { id: deliveryId, endpointId: endpoint.id, status: { not: 'pending' } },
    data: { status: 'pending', attempts: 0, nextAttemptAt: new Date(), deliveredAt: null }
  })
  const delivery = await db.webhookDelivery.findFirst({ where: { id: deliveryId, endpointId: endpoint.id } })
  if (!delivery) throw new RequestError(404, 'Delivery not found')
  if (count === 0) throw new RequestError(409, 'This delivery is still being sent')
  return toDeliveryDTO(delivery)
}
