import type { Config } from '../config'
import type { Db } from '../db/client'
import { RequestError, ValidationError } from '../validation'
import { findDataset } from '../warehouse/datasets'
import type { FieldError } from '../../../shared/types/api'
import type { CreateExportSchema, ExportMetadata } from '../../../shared/types/exports'
import type { z } from 'zod'
import { IdempotencyConflictError, JobLimitError, submitExportJob } from './jobs/submit'
import type { ExportJob } from './jobs/record'

export type CreateExportLimits = Pick<Config, 'EXPORT_MAX_ACTIVE_PER_USER' | 'EXPORT_MAX_QUEUE_DEPTH' | 'EXPORT_MAX_RANGE_DAYS'>

/**
 * Starts an export for the user: checks what the schema cannot (the dataset exists, the range is
 * within the configured cap, the accounts and tags are the user's own), then queues the job within
 * the limits, or returns the job an earlier request with the same Idempotency-Key created.
 * Refusals are RequestErrors carrying their HTTP status.
 */
export async function createExport(
  db: Db,
  limits: CreateExportLimits,
  userId: string,
  request: z.output<typeof CreateExportSchema>,
  idempotencyHeader?: string
): Promise<{ job: ExportJob, replayed: boolean }> {
  const idempotencyKey = parseIdempotencyKey(idempotencyHeader)
  if (idempotencyKey === null) throw new ValidationError([{ field: 'Idempotency-Key', message: 'Must be 1-255 printable ASCII characters' }])
  const metadata = await checkExportRequest(db, limits, userId, request)
  try {
    return await submitExportJob(db, userId, metadata, {
      maxActivePerUser: limits.EXPORT_MAX_ACTIVE_PER_USER,
      maxQueueDepth: limits.EXPORT_MAX_QUEUE_DEPTH,
      idempotencyKey
    })
  } catch (error) {
    if (error instanceof IdempotencyConflictError) throw new RequestError(422, error.message)
    if (error instanceof JobLimitError) {
      const tooMany = error.code === 'TOO_MANY_ACTIVE'
      throw new RequestError(tooMany ? 429 : 503, error.message, { data: { code: error.code }, retryAfterSeconds: tooMany ? 30 : 60 })
    }
    throw error
  }
}

/**
 * What createExport checks beyond the schema, as the job's metadata: the dataset exists (404), the
 * range is within EXPORT_MAX_RANGE_DAYS, the accounts and tags are the user's (400 naming the
 * field). Schedules run the same checks on their saved request.
 */
export async function checkExportRequest(
  db: Pick<Db, 'account' | 'tag'>,
  limits: Pick<Config, 'EXPORT_MAX_RANGE_DAYS'>,
  userId: string,
  request: z.output<typeof CreateExportSchema>
): Promise<ExportMetadata> {
  const dataset = findDataset(request.dataset_id)
  if (!dataset) throw new RequestError(404, `Unknown dataset: ${request.dataset_id}`)

  const range = rangeErrors(request.start_date, request.end_date, limits.EXPORT_MAX_RANGE_DAYS)
  if (range.length) throw new ValidationError(range)
  const accountIds = request.account_ids ?? []
  const tagIds = request.tag_ids ?? []
  const foreign = await foreignIds(db, userId, accountIds, tagIds)
  const errors: FieldError[] = [
    ...(foreign.accounts.length ? [{ field: 'account_ids', message: `Not your accounts: ${foreign.accounts.join(', ')}` }] : []),
    ...(foreign.tags.length ? [{ field: 'tag_ids', message: `Not your tags: ${foreign.tags.join(', ')}` }] : [])
  ]
  if (errors.length) throw new ValidationError(errors)

  return {
    dataset_id: dataset.id,
    dataset_name: dataset.name,
    format: request.format,
    filters: { start_date: request.start_date ?? null, end_date: request.end_date ?? null, account_ids: accountIds, tag_ids: tagIds }
  }
}

/** Ids from the request that are not the user's own (unknown, or another user's). */
export async function foreignIds(db: Pick<Db, 'account' | 'tag'>, userId: string, accountIds: string[], tagIds: string[]) {
  const [accounts, tags] = await Promise.all([
    accountIds.length ? db.account.findMany({ where: { userId, id: { in: accountIds } }, select: { id: true } }) : [],
    tagIds.length ? db.tag.findMany({ where: { userId, id: { in: tagIds } }, select: { id: true } }) : []
  ])
  const own = new Set([...accounts, ...tags].map(r => r.id))
  return { accounts: accountIds.filter(id => !own.has(id)), tags: tagIds.filter(id => !own.has(id)) }
}

/**
 * The date range against EXPORT_MAX_RANGE_DAYS (inclusive days). With a cap configured an open end
 * would make it meaningless, so both dates are then required.
 */
export function rangeErrors(start: string | null | undefined, end: string | null | undefined, maxDays: number | undefined): FieldError[] {
  if (!maxDays) return []
  if (!start) return [{ field: 'start_date', message: `Required: exports cover at most ${maxDays} days` }]
  if (!end) return [{ field: 'end_date', message: `Required: exports cover at most ${maxDays} days` }]
  const days = (Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / 86_400_000 + 1
  return days > maxDays ? [{ field: 'end_date', message: `The range is ${days} days; at most ${maxDays} days are allowed` }] : []
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

/** The Idempotency-Key header: undefined when absent, null when malformed. */
export function parseIdempotencyKey(header: string | undefined): string | undefined | null {
  if (header === undefined) return undefined
  return IDEMPOTENCY_KEY.test(header) ? header : null
}
