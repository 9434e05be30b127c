import type { DuckDBConnection } from '@duckdb/node-api'
import type { Config } from '../config'
import type { Db } from '../db/client'
import { RequestError, ValidationError } from '../validation'
import { findDataset, type Dataset } from '../warehouse/datasets'
import { buildCountQuery, queryParams } from '../warehouse/query'
import { WarehouseMissingError, type WarehouseReader } from '../warehouse/reader'
import type { FieldError } from '#shared/types/api'
import { partLimits, resolveExportOptions, type CreateExportSchema, type ExportMetadata } from '#shared/types/exports'
import { EXPORT_FORMATS } from '#shared/types/formats'
import { checkRowFilters } from '#shared/types/row-filters'
import type { z } from 'zod'
import { foreignDestinationIds } from '../destinations/store'
import { IdempotencyConflictError, JobLimitError, submitExportJob, type SubmitOptions } from './jobs/submit'
import type { ExportJob } from './jobs/record'

export type CreateExportLimits = Pick<Config, 'EXPORT_MAX_ACTIVE_PER_USER' | 'EXPORT_MAX_QUEUE_DEPTH' | 'EXPORT_MAX_RANGE_DAYS'>

export type CreateExportRequest = z.output<typeof CreateExportSchema>

export interface ExportDeps {
  db: Db
  /** Read for the row count where the format has a row limit (Excel), and by the preview. */
  warehouse: WarehouseReader
}

/**
 * Starts an export for the user: checks what the schema cannot (checkExportRequest), refuses an
 * Excel export that would not fit in a sheet (counted now, not found out after minutes of work),
 * then queues the job within the limits, or returns the job an earlier request with the same
 * Idempotency-Key created. Refusals are RequestErrors carrying their HTTP status.
 */
export async function createExport(
  deps: ExportDeps,
  limits: CreateExportLimits,
  userId: string,
  request: CreateExportRequest,
  submission: { source: SubmitOptions['source'], idempotencyHeader?: string }
): Promise<{ job: ExportJob, replayed: boolean }> {
  const idempotencyKey = parseIdempotencyKey(submission.idempotencyHeader)
  if (idempotencyKey === null) throw new ValidationError([{ field: 'Idempotency-Key', message: 'Must be 1-255 printable ASCII characters' }])
  const { dataset, metadata } = await checkExportRequest(deps.db, limits, userId, request)

  const { maxRows } = EXPORT_FORMATS[metadata.format]
  // Counted for a multi-part export too: its progress runs against the count (each part is its own query).
  if (maxRows !== null || partLimits(metadata)) {
    const rows = await withConnection(deps.warehouse, connection => countRows(connection, dataset, userId, metadata))
    // Split by rows, each workbook is one sheet (the schema holds max_part_rows within a sheet).
    if (maxRows !== null && rows > maxRows && !metadata.max_part_rows) {
      throw new ValidationError([{
        field: 'format',
        message: `This export has ${rows.toLocaleString('en-US')} rows; ${EXPORT_FORMATS[metadata.format].label} holds at most ${(maxRows + 1).toLocaleString('en-US')} rows a sheet (${maxRows.toLocaleString('en-US')} after the header). Set max_part_rows (at most ${maxRows.toLocaleString('en-US')}) to get several workbooks, choose CSV or Parquet, narrow the filters, or set a limit.`
      }])
    }
    metadata.expected_rows = rows
  }

  try {
    return await submitExportJob(deps.db, userId, metadata, {
      maxActivePerUser: limits.EXPORT_MAX_ACTIVE_PER_USER,
      maxQueueDepth: limits.EXPORT_MAX_QUEUE_DEPTH,
      idempotencyKey,
      source: submission.source
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
 * What creating and previewing an export both check beyond the schema: the dataset exists, the
 * columns are its own, each row filter fits its column, the range is within the configured cap, the accounts and tags are the
 * user's own. Returns the dataset and the job metadata the request stands for. Schedules run the
 * same checks on their saved request.
 */
export async function checkExportRequest(
  db: Pick<Db, 'account' | 'tag' | 'destination'>,
  limits: Pick<Config, 'EXPORT_MAX_RANGE_DAYS'>,
  userId: string,
  request: CreateExportRequest
): Promise<{ dataset: Dataset, metadata: ExportMetadata }> {
  const dataset = findDataset(request.dataset_id)
  if (!dataset) throw new RequestError(404, `Unknown dataset: ${request.dataset_id}`)

  const known = new Set(dataset.columns.map(c => c.name))
  const unknown = (request.columns ?? []).filter(c => !known.has(c))
  const range = rangeErrors(request.start_date, request.end_date, limits.EXPORT_MAX_RANGE_DAYS)
  const rowFilters = checkRowFilters(dataset.name, dataset.columns, request.row_filters ?? [])
  const shape: FieldError[] = [
    ...(unknown.length ? [{ field: 'columns', message: `Not columns of ${dataset.name}: ${unknown.join(', ')}` }] : []),
    ...range,
    ...rowFilters.errors
  ]
  if (shape.length) throw new ValidationError(shape)
  const accountIds = request.account_ids ?? []
  const tagIds = request.tag_ids ?? []
  const foreign = await foreignIds(db, userId, accountIds, tagIds)
  const errors: FieldError[] = [
    ...(foreign.accounts.length ? [{ field: 'account_ids', message: `Not your accounts: ${foreign.accounts.join(', ')}` }] : []),
    ...(foreign.tags.length ? [{ field: 'tag_ids', message: `Not your tags: ${foreign.tags.join(', ')}` }] : [])
  ]
  if (errors.length) throw new ValidationError(errors)
  const destinationIds = request.destination_ids ?? []
  const strangers = await foreignDestinationIds(db, userId, destinationIds)
  if (strangers.length) {
    const message = `Not found: ${strangers.join(', ')}`
    throw new RequestError(404, `destination_ids: ${message}`, { data: { errors: [{ field: 'destination_ids', message }] } })
  }

  const options = resolveExportOptions(request)
  const metadata: ExportMetadata = {
    dataset_id: dataset.id,
    dataset_name: dataset.name,
    format: request.format,
    filters: { start_date: request.start_date ?? null, end_date: request.end_date ?? null, account_ids: accountIds, tag_ids: tagIds, row_filters: rowFilters.filters },
    compression: options.compression,
    columns: options.columns,
    limit: options.limit,
    csv: options.csv,
    parquet_compression: options.parquet_compression,
    ...(request.max_part_mb && { max_part_mb: request.max_part_mb }),
    ...(request.max_part_rows && { max_part_rows: request.max_part_rows }),
    ...(destinationIds.length ? { destination_ids: destinationIds } : {})
  }
  return { dataset, metadata }
}

/** The exact number of rows the export will have: a count with the same filters, capped by its limit. */
export async function countRows(connection: DuckDBConnection, dataset: Dataset, userId: string, metadata: ExportMetadata): Promise<number> {
  // Counted without the limit (which would sort) and capped here.
  const params = queryParams(dataset, metadata.filters)
  const result = await connection.runAndReadAll(buildCountQuery(dataset, userId, metadata.filters), params.values, params.types)
  const count = Number(result.getRowObjectsJson()[0]!.n)
  return metadata.limit ? Math.min(count, metadata.limit) : count
}

/** A warehouse connection for a request, closed afterwards; a missing warehouse is a 503. */
export async function withConnection<T>(warehouse: WarehouseReader, work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  let connection: DuckDBConnection
  try {
    connection = await warehouse.connect()
  } catch (error) {
    if (error instanceof WarehouseMissingError) throw new RequestError(503, 'The data warehouse is not available right now. Please try again later.', { retryAfterSeconds: 60 })
    throw error
  }
  try {
    return await work(connection)
  } finally {
    connection.closeSync()
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
