import { randomBytes } from 'node:crypto'
import type { Db } from '#server/lib/db/client'
import { Prisma, type Destination } from '#server/generated/prisma/client'
import type { Config } from '#server/lib/config'
import { seal, secretsKey, unseal } from '#server/lib/secrets'
import { RequestError, ValidationError, fieldErrors } from '#server/lib/validation'
import { isUuid } from '#shared/utils/uuid'
import {
  DESTINATION_CONFIG_SCHEMAS, UPDATE_DESTINATION_SCHEMAS, type CreateDestination, type CredentialKind, type DestinationDTO,
  type DestinationExternalIdDTO, type DestinationTestResultDTO, type DestinationType
} from '#shared/types/destinations'

/**
 * A user's destinations: created, listed, changed, deleted; always scoped to the user (another
 * user's is a 404). Credentials are sealed (AES-256-GCM) before they reach the database and are
 * unsealed only to connect; what the API shows instead is their kind and a hint.
 */

export type DestinationsConfig = Pick<Config, 'DESTINATIONS_KEY' | 'NUXT_SESSION_PASSWORD' | 'DESTINATIONS_MAX_PER_USER' | 'WEBHOOK_ALLOW_HOSTS' | 'DESTINATIONS_AWS_PRINCIPAL_ARN'>

/** The sealing key: DESTINATIONS_KEY, else derived from NUXT_SESSION_PASSWORD under its own label. */
export function destinationsKey(config: Pick<Config, 'DESTINATIONS_KEY' | 'NUXT_SESSION_PASSWORD'>): Buffer {
  const secret = config.DESTINATIONS_KEY ?? config.NUXT_SESSION_PASSWORD
  if (!secret) throw new RequestError(503, 'Destinations need DESTINATIONS_KEY or NUXT_SESSION_PASSWORD to be set on the server')
  return secretsKey(secret, 'destinations/v1')
}

/** A destination as the engine uses it: its config checked, its credentials unsealed. */
export interface OpenDestination {
  id: string
  userId: string
  name: string
  type: DestinationType
  config: unknown
  credentials: unknown
}

export function credentialSummary(type: DestinationType, credentials: Record<string, unknown>): { kind: CredentialKind, hint: string | null } {
  const text = (key: string) => typeof credentials[key] === 'string' ? credentials[key] : ''
  if (type === 's3') {
    return credentials.role_arn ? { kind: 'role_arn', hint: text('role_arn') } : { kind: 'access_key', hint: `…${text('access_key_id').slice(-4)}` }
  }
  if (type === 'azure_blob') {
    if (!credentials.sas_token) return { kind: 'account_key', hint: text('account_name') }
    const expiry = new URLSearchParams(text('sas_token')).get('se')
    return { kind: 'sas_token', hint: expiry ? `expires ${expiry}` : null }
  }
  if (credentials.private_key) {
    const kind = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----/.exec(text('private_key'))?.[1]?.trim()
    return { kind: 'private_key', hint: kind ? `${kind} key` : 'PEM key' }
  }
  return { kind: 'password', hint: null }
}

/** The config as the API shows it: every optional field present (null when unset). */
function configDTO(type: DestinationType, config: Record<string, unknown>): DestinationDTO['config'] {
  if (type === 's3') {
    return {
      bucket: config.bucket as string,
      prefix: config.prefix as string,
      region: config.region as string,
      endpoint: (config.endpoint as string | undefined) ?? null,
      force_path_style: Boolean(config.force_path_style),
      sse: (config.sse as 'AES256' | 'aws:kms' | undefined) ?? null,
      kms_key_id: (config.kms_key_id as string | undefined) ?? null
    }
  }
  if (type === 'azure_blob') return { account_url: config.account_url as string, container: config.container as string, prefix: config.prefix as string }
  return {
    host: config.host as string,
    port: config.port as number,
    path: config.path as string,
    username: config.username as string,
    host_key_sha256: (config.host_key_sha256 as string | undefined) ?? null
  }
}

export function toDestinationDTO(row: Destination): DestinationDTO {
  const type = row.type as DestinationType
  return {
    id: row.id,
    name: row.name,
    type,
    config: configDTO(type, row.config as Record<string, unknown>),
    credentials: { kind: row.credentialKind as CredentialKind, hint: row.credentialHint },
    last_test: (row.lastTest as DestinationTestResultDTO | null) ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString()
  } as DestinationDTO
}

/** Nulls dropped, so an optional field cleared by PATCH is absent, as if never given. */
function compact(config: Record<string, unknown>): Prisma.InputJsonObject {
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== null && v !== undefined)) as Prisma.InputJsonObject
}

function sealCredentials(key: Buffer, type: DestinationType, credentials: Record<string, unknown>) {
  const summary = credentialSummary(type, credentials)
  return { credentials: seal(key, JSON.stringify(credentials)), credentialKind: summary.kind, credentialHint: summary.hint }
}

export async function createDestination(db: Db, userId: string, input: CreateDestination, config: DestinationsConfig): Promise<DestinationDTO> {
  const key = destinationsKey(config)
  // Counted and inserted under a per-user lock, so two parallel requests cannot both take the last place.
  const row = await db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('outport_destinations'), hashtext(${userId}))`
    const count = await tx.destination.count({ where: { userId } })
    if (count >= config.DESTINATIONS_MAX_PER_USER) throw new RequestError(409, `At most ${config.DESTINATIONS_MAX_PER_USER} destinations per user; delete one first`)
    return tx.destination.create({
      data: { userId, name: input.name, type: input.type, config: compact(input.config), ...sealCredentials(key, input.type, input.credentials) }
    })
  })
  return toDestinationDTO(row)
}

export async function listDestinations(db: Db, userId: string): Promise<DestinationDTO[]> {
  const rows = await db.destination.findMany({ where: { userId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })
  return rows.map(toDestinationDTO)
}

export async function findDestination(db: Db, userId: string, id: unknown): Promise<Destination> {
  const row = isUuid(id) ? await db.destination.findFirst({ where: { id: id.toLowerCase(), userId } }) : null
  if (!row) throw new RequestError(404, 'Destination not found')
  return row
}

/** The row with its credentials unsealed, to connect with. */
export function openDestination(row: Destination, key: Buffer): OpenDestination {
  const plain = unseal(key, row.credentials)
  if (plain === null) throw new RequestError(409, 'This destination\'s credentials cannot be read (the server\'s DESTINATIONS_KEY changed); enter them again')
  return { id: row.id, userId: row.userId, name: row.name, type: row.type as DestinationType, config: row.config, credentials: JSON.parse(plain) }
}

/**
 * PATCH: the name, config fields (merged over the saved ones, then checked whole) and/or the
 * credentials (replaced whole). A change to where or how it connects forgets the last test.
 */
export async function updateDestination(db: Db, userId: string, id: unknown, body: unknown, config: DestinationsConfig): Promise<{ dto: DestinationDTO, changed: string[] }> {
  const row = await findDestination(db, userId, id)
  const type = row.type as DestinationType
  const parsed = UPDATE_DESTINATION_SCHEMAS[type].safeParse(body)
  if (!parsed.success) throw new ValidationError(fieldErrors(parsed.error))
  const patch = parsed.data as { name?: string, config?: Record<string, unknown>, credentials?: Record<string, unknown> }
  const data: Prisma.DestinationUpdateInput = { updatedAt: new Date() }
  const changed: string[] = []
  if (patch.name !== undefined) {
    data.name = patch.name
    changed.push('name')
  }
  if (patch.config) {
    const merged = DESTINATION_CONFIG_SCHEMAS[type].safeParse({ ...(row.config as Record<string, unknown>), ...patch.config })
    if (!merged.success) throw new ValidationError(fieldErrors(merged.error).map(e => ({ ...e, field: `config.${e.field}` })))
    data.config = compact(merged.data as Record<string, unknown>)
    changed.push(...Object.keys(patch.config).map(k => `config.${k}`))
  }
  if (patch.credentials) {
    Object.assign(data, sealCredentials(destinationsKey(config), type, patch.credentials))
    changed.push('credentials')
  }
  if (patch.config || patch.credentials) data.lastTest = Prisma.DbNull
  const updated = await db.destination.update({ where: { id: row.id }, data })
  return { dto: toDestinationDTO(updated), changed }
}

/**
 * Deletes the user's destination and answers what it was. Its past deliveries keep their name and
 * location; schedules stop naming it (a schedule whose destination is gone still runs).
 */
export async function deleteDestination(db: Db, userId: string, id: unknown): Promise<DestinationDTO> {
  const row = await findDestination(db, userId, id)
  await db.$transaction([
    db.$executeRaw`UPDATE schedules SET request = jsonb_set(request, '{destination_ids}', COALESCE((
        SELECT jsonb_agg(x) FROM jsonb_array_elements(request->'destination_ids') x WHERE x <> to_jsonb(${row.id}::text)
      ), '[]'::jsonb))
      WHERE user_id = ${userId}::uuid AND jsonb_typeof(request->'destination_ids') = 'array' AND request->'destination_ids' ? ${row.id}`,
    db.destination.delete({ where: { id: row.id } })
  ])
  return toDestinationDTO(row)
}

/** Saves a test's result on the destination (never for an unsaved one). */
export async function recordTest(db: Db, id: string, result: DestinationTestResultDTO): Promise<void> {
  await db.destination.update({ where: { id }, data: { lastTest: result as unknown as Prisma.InputJsonObject } })
}

/** Which of `ids` are not the user's destinations. */
export async function foreignDestinationIds(db: Pick<Db, 'destination'>, userId: string, ids: string[]): Promise<string[]> {
  if (!ids.length) return []
  const own = await db.destination.findMany({ where: { userId, id: { in: ids.filter(isUuid) } }, select: { id: true } })
  const found = new Set(own.map(d => d.id))
  return ids.filter(id => !found.has(id))
}

/** The user's ExternalId for AssumeRole, made on first use and never changed (roles' trust policies name it). */
export async function externalIdOf(db: Db, userId: string): Promise<string> {
  const user = await db.user.findUnique({ where: { id: userId }, select: { destinationsExternalId: true } })
  if (user?.destinationsExternalId) return user.destinationsExternalId
  const fresh = `outport-${randomBytes(16).toString('hex')}`
  await db.user.updateMany({ where: { id: userId, destinationsExternalId: null }, data: { destinationsExternalId: fresh } })
  const saved = await db.user.findUnique({ where: { id: userId }, select: { destinationsExternalId: true } })
  return saved!.destinationsExternalId!
}

export async function externalIdDTO(db: Db, userId: string, principalArn: string | undefined): Promise<DestinationExternalIdDTO> {
  const externalId = await externalIdOf(db, userId)
  const policy = {
    Version: '2012-10-17',
    Statement: [{
      Effect: 'Allow',
      Principal: { AWS: principalArn ?? 'arn:aws:iam::OUTPORT_ACCOUNT_ID:root' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'sts:ExternalId': externalId } }
    }]
  }
  return { external_id: externalId, principal_arn: principalArn ?? null, trust_policy: JSON.stringify(policy, null, 2) }
}
