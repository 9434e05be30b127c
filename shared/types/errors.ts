import { z } from 'zod'

/**
 * Why an export job failed, by the stable code in its `error.code`: one row each, with what it
 * means. Programs switch on the code (the OpenAPI document lists every one); the `message` beside
 * it is for people and may change. A code the worker or the scheduler writes must be here, or the
 * typecheck fails.
 */
export const EXPORT_ERROR_CODES = {
  INVALID_FILTERS: 'The filters cannot be turned into a query of the dataset',
  INVALID_OPTIONS: 'The file options are invalid (the CSV delimiter)',
  DATASET_NOT_FOUND: 'The dataset is no longer available',
  WAREHOUSE_UNAVAILABLE: 'The data warehouse could not be read; tried again while it may come back',
  QUERY_FAILED: 'The dataset query failed',
  TOO_MANY_ROWS: 'More rows than an Excel sheet holds: choose CSV or Parquet, narrow the filters, or set a limit',
  STORAGE_UNAVAILABLE: 'The file storage could not be reached; tried again with backoff',
  STORAGE_ERROR: 'The file storage refused the file',
  TEMPORARY_FAILURE: 'A service the export depends on was briefly unavailable; tried again with backoff',
  INTERNAL_ERROR: 'The export failed unexpectedly',
  WORKER_LOST: 'The export stopped on every allowed attempt (its worker was lost, e.g. out of memory), so it was not tried again',
  FILTERS_GONE: 'A schedule\'s run: accounts or tags in its filters were deleted since the schedule was saved',
  FILTER_COLUMN_GONE: 'A schedule\'s run: a column its row filters name is no longer in the dataset',
  INVALID_SCHEDULE: 'A schedule\'s run: its saved export is no longer valid or allowed'
} as const satisfies Record<string, string>

export type ExportErrorCode = keyof typeof EXPORT_ERROR_CODES

const CODES = Object.keys(EXPORT_ERROR_CODES) as [ExportErrorCode, ...ExportErrorCode[]]

export const ExportErrorCodeSchema = z.enum(CODES).meta({
  'id': 'ExportErrorCode',
  'description': ['Why the export failed, stable for programs:', ...CODES.map(code => `- \`${code}\`: ${EXPORT_ERROR_CODES[code]}`)].join('\n'),
  // The same meanings by code, for tools that show one per enum value (Scalar, Redoc).
  'x-enumDescriptions': EXPORT_ERROR_CODES
})

/**
 * Why the server refused to queue an export now (a 429 or 503 answer's `data.code`), by code:
 * clients switch on it to wait or back off; the `message` beside it is for people.
 */
export const REQUEST_REFUSAL_CODES = {
  TOO_MANY_ACTIVE: '429: the caller has EXPORT_MAX_ACTIVE_PER_USER exports pending or running; wait for one to finish or cancel one',
  QUEUE_FULL: '503: the queue holds EXPORT_MAX_QUEUE_DEPTH exports; try again in a few minutes (Retry-After)'
} as const satisfies Record<string, string>

export type RequestRefusalCode = keyof typeof REQUEST_REFUSAL_CODES

const REFUSALS = Object.keys(REQUEST_REFUSAL_CODES) as [RequestRefusalCode, ...RequestRefusalCode[]]

export const RequestRefusalCodeSchema = z.enum(REFUSALS).meta({
  'id': 'RequestRefusalCode',
  'description': ['Why the request was refused for now, stable for programs:', ...REFUSALS.map(code => `- \`${code}\`: ${REQUEST_REFUSAL_CODES[code]}`)].join('\n'),
  'x-enumDescriptions': REQUEST_REFUSAL_CODES
})
