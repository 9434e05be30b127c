import { z } from 'zod'
import { COMPRESSION_IDS, EXPORT_FORMATS, ExportFormatSchema, PARQUET_COMPRESSIONS, type Compression, type ExportFormat, type ParquetCompression } from './formats'
import { ExportErrorCodeSchema } from './errors'
import { JOB_STATUS_IDS, JobStatusSchema, type JobStatus } from './jobs'
import { RowFilterSchema, RowFiltersSchema, type RowFilter } from './row-filters'
import { DestinationIdsSchema, ExportDeliverySchema } from './destinations'

/** Export requests, job metadata and the status DTO, shared by the API, the worker and the app (snake_case, as in the PRD). */

export const MAX_FILTER_IDS = 1000

/** How an export came about: a signed-in browser session, an API token, or a schedule's run (backfills included). */
export const EXPORT_SOURCES = ['manual', 'api', 'schedule'] as const
export const ExportSourceSchema = z.enum(EXPORT_SOURCES)
export type ExportSource = typeof EXPORT_SOURCES[number]

/** The largest `limit` a request may ask for. */
export const MAX_EXPORT_LIMIT = 100_000_000
const LIMIT_MESSAGE = `A whole number from 1 to ${MAX_EXPORT_LIMIT.toLocaleString('en-US')}`

export const CSV_DELIMITERS = [',', ';', '\t', '|'] as const
export type CsvDelimiter = typeof CSV_DELIMITERS[number]

export const CsvOptionsDTOSchema = z.object({
  delimiter: z.enum(CSV_DELIMITERS),
  header: z.boolean(),
  /** A UTF-8 byte order mark first (older Excel on Windows needs it to read UTF-8). */
  bom: z.boolean().meta({ description: 'A UTF-8 byte order mark first (older Excel on Windows needs it)' }),
  /** Text cells a spreadsheet would run as a formula get a leading `'`. */
  formula_guard: z.boolean().meta({ description: 'Text cells a spreadsheet would run as a formula get a leading \'' })
}).meta({ id: 'CsvOptions' })

export type CsvOptions = z.infer<typeof CsvOptionsDTOSchema>

/** Today's CSV: comma, header, no BOM, formulas guarded. */
export const DEFAULT_CSV_OPTIONS: Readonly<CsvOptions> = Object.freeze({ delimiter: ',', header: true, bom: false, formula_guard: true })

/** The file choices of an export beyond the format, with every default filled in. */
export interface ExportOptions {
  compression: Compression
  /** Column names in the order asked for; null = all, in the manifest's order. */
  columns: string[] | null
  limit: number | null
  /** null unless the format is csv. */
  csv: CsvOptions | null
  /** null unless the format is parquet. */
  parquet_compression: ParquetCompression | null
}

export const ExportFiltersSchema = z.object({
  start_date: z.string().nullable(),
  end_date: z.string().nullable(),
  account_ids: z.array(z.string()),
  tag_ids: z.array(z.string()),
  row_filters: z.array(RowFilterSchema).meta({ description: 'Conditions on columns, all of which hold (normalised as checked)' })
})

/** The filters as a job stores them: `row_filters` is absent in jobs from before row filters (= none). */
export type ExportFilters = Omit<z.infer<typeof ExportFiltersSchema>, 'row_filters'> & { row_filters?: RowFilter[] }

export const ExportProgressSchema = z.object({
  phase: z.enum(['queued', 'querying', 'uploading', 'finalizing']),
  percent: z.number().min(0).max(100),
  rows: z.int().nullable(),
  bytes_uploaded: z.int().nullable()
})

export type ExportProgress = z.infer<typeof ExportProgressSchema>

export const ExportErrorSchema = z.object({
  code: ExportErrorCodeSchema,
  message: z.string()
})

export type ExportError = z.infer<typeof ExportErrorSchema>

/** What the job's `metadata` JSONB holds for an export. */
export interface ExportMetadata {
  dataset_id: string
  dataset_name: string
  format: ExportFormat
  filters: ExportFilters
  /** The file choices; absent in jobs created before they existed (= the defaults). */
  compression?: Compression
  columns?: string[] | null
  limit?: number | null
  csv?: CsvOptions | null
  parquet_compression?: ParquetCompression | null
  /** Split into parts of at most this many MiB / rows (either or both); absent = one file. */
  max_part_mb?: number | null
  max_part_rows?: number | null
  /** A multi-part export's parts, in order (its `s3_key` is then the manifest's). */
  parts?: ExportPartRecord[]
  /** Rows counted when the job was created (Excel exports only): their progress runs against it. */
  expected_rows?: number
  s3_key?: string
  row_count?: number
  file_size_bytes?: number
  checksum_sha256?: string
  /** Set on a schedule's run (the schedule's id is the job's `schedule_id` column). */
  schedule?: ScheduleRunInfo
  /** The destinations asked for (their deliveries are rows of `export_deliveries`); absent = none. */
  destination_ids?: string[]
  /** An incremental schedule's run ("only new rows since the last run"). */
  incremental?: IncrementalRun
}

/**
 * An incremental run's window on the dataset's load time. `from` and `as_of` are fixed when the run
 * starts (each attempt), not when it is queued: `from` is the schedule's watermark then (the last
 * completed run's `as_of`), `as_of` the warehouse's latest load time; the run exports
 * `from < loaded_at <= as_of`. ISO 8601 UTC with microseconds (the warehouse's precision).
 */
export interface IncrementalRun {
  /** The schedule's `initial.start_date` (first run only: rows dated from it), or null for all. */
  initial_start_date: string | null
  from?: string | null
  as_of?: string | null
}

/** How a scheduled run came about, kept on the job so its messages can say so. */
export const ScheduleRunInfoSchema = z.object({
  /** The schedule's name when the run was created. */
  name: z.string().nullable(),
  /** 'cadence': the scheduler, at its slot; 'run_now': the user, outside the cadence; 'backfill': a past slot the user asked for. */
  trigger: z.enum(['cadence', 'run_now', 'backfill']),
  /** Earlier slots this catch-up run replaced (the server was down past them); 0 normally. */
  missed_slots: z.int().min(0).meta({ description: 'Earlier slots this catch-up run replaced; 0 normally' })
})

export type ScheduleRunInfo = z.infer<typeof ScheduleRunInfoSchema>

/** What a finished run adds to the metadata (`parts` only for a multi-part export). */
export type ExportResult = Required<Pick<ExportMetadata, 's3_key' | 'row_count' | 'file_size_bytes' | 'checksum_sha256'>> & Pick<ExportMetadata, 'parts'>

/** Part sizes a request may ask for (issue 27): MiB per part, rows per part. */
export const PART_LIMITS = { minMb: 8, maxMb: 5000, minRows: 10_000, maxRows: 100_000_000 } as const

/** One part of a multi-part export as the job records it (`key`: its S3 object). */
export interface ExportPartRecord {
  key: string
  filename: string
  rows: number
  bytes: number
  checksum_sha256: string
}

/** The manifest written last beside a multi-part export's parts (the set is complete once it exists). */
export interface ExportManifest {
  job_id: string
  dataset: string
  format: ExportFormat
  compression: Compression
  created_at: string
  row_count: number
  bytes: number
  parts: Array<Omit<ExportPartRecord, 'key'>>
}

export const ExportPartSchema = z.object({
  index: z.int().min(1).meta({ description: '1-based, as in the file name and `?part=N`' }),
  filename: z.string(),
  rows: z.int().min(0),
  bytes: z.int().min(0),
  checksum_sha256: z.string(),
  download_url: z.url().nullable().meta({ description: 'A presigned URL minted for this read, while completed' })
}).meta({ id: 'ExportPart' })

export type ExportPartDTO = z.infer<typeof ExportPartSchema>

const timestamp = z.iso.datetime()

/** An export job as the API shows it (GET /api/analytics/exports/{id} and the list). */
export const ExportJobSchema = z.object({
  job_id: z.guid(),
  status: JobStatusSchema,
  dataset_id: z.guid(),
  dataset_name: z.string(),
  format: ExportFormatSchema,
  filters: ExportFiltersSchema,
  compression: z.enum(COMPRESSION_IDS),
  columns: z.array(z.string()).nullable(),
  limit: z.int().nullable(),
  csv: CsvOptionsDTOSchema.nullable(),
  parquet_compression: z.enum(PARQUET_COMPRESSIONS).nullable(),
  row_count: z.int().nullable(),
  file_size_bytes: z.int().nullable(),
  checksum_sha256: z.string().nullable(),
  progress: ExportProgressSchema.nullable(),
  error: ExportErrorSchema.nullable(),
  attempts: z.int().min(0),
  queue_position: z.int().nullable().meta({ description: 'For a pending job: how many exports are ahead of it in the queue (status reads only)' }),
  download_url: z.url().nullable().meta({ description: 'A presigned URL minted for this read, while completed' }),
  expires_at: timestamp.nullable().meta({ description: 'When download_url stops working (the presigned URL\'s expiry)' }),
  file_expires_at: timestamp.nullable().meta({ description: 'When retention deletes the file (completed_at + EXPORT_RETENTION_HOURS); null unless completed' }),
  created_at: timestamp,
  started_at: timestamp.nullable(),
  completed_at: timestamp.nullable(),
  source: ExportSourceSchema.meta({ description: 'How the export came about: `manual` (started in the app), `api` (with an API token), `schedule` (a schedule\'s run, backfills included)' }),
  schedule_id: z.guid().nullable().meta({ description: 'The schedule this run came from (null for a one-off export, or once the schedule is deleted)' }),
  scheduled_for: timestamp.nullable().meta({ description: 'The slot a scheduled run was for' }),
  schedule_run: ScheduleRunInfoSchema.nullable(),
  deleted_at: timestamp.nullable().meta({ description: 'When the user deleted the export (status `deleted`)' }),
  data_as_of: timestamp.nullable().meta({ description: 'An incremental schedule\'s run: the latest load time (`loaded_at`) it covers, read from the warehouse when the run started; null otherwise or before it starts' }),
  incremental_from: timestamp.nullable().meta({ description: 'An incremental schedule\'s run: the watermark it started from (rows loaded strictly after it); null for the first run, or when not incremental' }),
  max_part_mb: z.int().nullable().meta({ description: 'The requested largest part in MiB (null: not split by size)' }),
  max_part_rows: z.int().nullable().meta({ description: 'The requested most rows a part (null: not split by rows)' }),
  parts: z.array(ExportPartSchema).nullable().meta({ description: 'A multi-part export\'s parts in order, with fresh links while completed; null for a single file' }),
  manifest_url: z.url().nullable().meta({ description: 'A presigned URL of a multi-part export\'s manifest (written last), while completed' }),
  deliveries: z.array(ExportDeliverySchema).meta({ description: 'One per destination asked for, once the file is written (empty before and without destinations)' })
}).meta({ id: 'ExportJob' })

export type ExportJobDTO = z.infer<typeof ExportJobSchema>

/** 202 from creating an export and from running a schedule now. */
export const ExportCreatedSchema = z.object({
  job_id: z.guid(),
  status: JobStatusSchema,
  message: z.string()
})

export const ExportListSchema = z.object({
  exports: z.array(ExportJobSchema),
  next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last' })
})

export const HISTOGRAM_GRAINS = ['day', 'week', 'month', 'quarter', 'year'] as const
export type HistogramGrain = typeof HISTOGRAM_GRAINS[number]

/** What an export would produce (POST /api/analytics/exports/preview). */
export const ExportPreviewSchema = z.object({
  columns: z.array(z.object({ name: z.string(), type: z.string() })),
  rows: z.array(z.record(z.string(), z.unknown().meta({ description: 'A cell: text, a number, a boolean, null, a list or an object' }))).meta({ description: 'The first rows as the file will hold them: CSV cells as text, other formats typed' }),
  row_count: z.int().min(0),
  estimated_bytes: z.int().min(0),
  histogram: z.array(z.object({
    bucket: z.string().meta({ description: 'The first day of the bucket, YYYY-MM-DD' }),
    rows: z.int().min(0)
  })).meta({ description: 'Rows per bucket of the dataset\'s date column, for the same filters, conditions and limit: every bucket of the range (the request\'s dates, else the first and last with rows), empty ones with 0' }),
  histogram_grain: z.enum(HISTOGRAM_GRAINS).meta({ description: 'The bucket size: the finest that gives at most 60 buckets' }),
  estimated_parts: z.int().min(1).meta({ description: 'How many files the export will be: 1 unless max_part_mb or max_part_rows splits it (from estimated_bytes and row_count)' })
})

const id = z.guid('Must be a UUID')

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'Must be a date as YYYY-MM-DD').refine((value) => {
  const date = new Date(`${value}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value)
}, 'Must be a real calendar date')

// overwrite, not transform: the type stays string[], so the saved request (a schedule's) can be
// described by the same schema in responses.
const ids = (what: string) => z.array(id).max(MAX_FILTER_IDS, `At most ${MAX_FILTER_IDS} ${what}`)
  .overwrite(values => [...new Set(values.map(v => v.toLowerCase()))])

const PART_MB_MESSAGE = `A whole number of MiB from ${PART_LIMITS.minMb} to ${PART_LIMITS.maxMb.toLocaleString('en-US')}`
const PART_ROWS_MESSAGE = `A whole number of rows from ${PART_LIMITS.minRows.toLocaleString('en-US')} to ${PART_LIMITS.maxRows.toLocaleString('en-US')}`

const CsvOptionsSchema = z.strictObject({
  delimiter: z.enum(CSV_DELIMITERS, `Must be one of: ${CSV_DELIMITERS.map(d => JSON.stringify(d)).join(', ')}`).optional(),
  header: z.boolean().optional(),
  bom: z.boolean().optional(),
  formula_guard: z.boolean().optional()
})

/** The export request: validated by the dialog before sending and by the API on arrival. */
export const CreateExportSchema = z.strictObject({
  dataset_id: id,
  format: ExportFormatSchema,
  start_date: isoDate.nullish(),
  end_date: isoDate.nullish(),
  account_ids: ids('accounts').nullish(),
  tag_ids: ids('tags').nullish(),
  compression: z.enum(COMPRESSION_IDS, `Must be one of: ${COMPRESSION_IDS.map(c => `"${c}"`).join(', ')}`).nullish(),
  parquet_compression: z.enum(PARQUET_COMPRESSIONS, `Must be one of: ${PARQUET_COMPRESSIONS.map(c => `"${c}"`).join(', ')}`).nullish(),
  // Names are checked against the dataset by the engine; here only their shape and repeats.
  columns: z.array(z.string().min(1, 'Must not be empty').max(128, 'At most 128 characters')).min(1, 'Choose at least one column').max(200, 'At most 200 columns').nullish(),
  limit: z.number(LIMIT_MESSAGE).int(LIMIT_MESSAGE).min(1, LIMIT_MESSAGE).max(MAX_EXPORT_LIMIT, LIMIT_MESSAGE).nullish(),
  csv: CsvOptionsSchema.nullish(),
  // Whether each condition fits its column is checked by the engine, which has the manifest.
  row_filters: RowFiltersSchema.nullish(),
  max_part_mb: z.number(PART_MB_MESSAGE).int(PART_MB_MESSAGE).min(PART_LIMITS.minMb, PART_MB_MESSAGE).max(PART_LIMITS.maxMb, PART_MB_MESSAGE).nullish(),
  max_part_rows: z.number(PART_ROWS_MESSAGE).int(PART_ROWS_MESSAGE).min(PART_LIMITS.minRows, PART_ROWS_MESSAGE).max(PART_LIMITS.maxRows, PART_ROWS_MESSAGE).nullish(),
  // Ownership is checked by the engine (another user's id is a 404 naming the field).
  destination_ids: DestinationIdsSchema.nullish()
}).superRefine((v, ctx) => {
  if (v.start_date && v.end_date && v.start_date > v.end_date) {
    ctx.addIssue({ code: 'custom', path: ['end_date'], message: 'The end date must be on or after the start date' })
  }
  // Combinations come from the format registry, so a new format brings its own rules.
  const info = EXPORT_FORMATS[v.format]
  if (!info) return
  if (v.compression && !(info.compressions as readonly string[]).includes(v.compression)) {
    ctx.addIssue({ code: 'custom', path: ['compression'], message: `${info.label} files cannot be compressed with ${v.compression}; choose one of: ${info.compressions.map(c => `"${c}"`).join(', ')}${v.format === 'parquet' ? ' (use parquet_compression for Parquet\'s internal codec)' : ''}` })
  }
  if (v.parquet_compression && v.format !== 'parquet') {
    ctx.addIssue({ code: 'custom', path: ['parquet_compression'], message: 'Only for the parquet format' })
  }
  if (v.csv && v.format !== 'csv') {
    ctx.addIssue({ code: 'custom', path: ['csv'], message: 'Only for the csv format' })
  }
  if (info.maxRows !== null && v.max_part_rows && v.max_part_rows > info.maxRows) {
    ctx.addIssue({ code: 'custom', path: ['max_part_rows'], message: `${info.label} holds at most ${info.maxRows.toLocaleString('en-US')} rows a sheet after the header` })
  }
  if (v.columns) {
    const seen = new Set<string>()
    const repeated = [...new Set(v.columns.filter(c => seen.has(c) || !seen.add(c)))]
    if (repeated.length) ctx.addIssue({ code: 'custom', path: ['columns'], message: `Repeated: ${repeated.join(', ')}` })
  }
})

/** The request's file choices with the defaults filled in (the same for old jobs' metadata). */
export function resolveExportOptions(v: {
  format: ExportFormat
  compression?: Compression | null
  columns?: string[] | null
  limit?: number | null
  csv?: Partial<CsvOptions> | null
  parquet_compression?: ParquetCompression | null
}): ExportOptions {
  return {
    compression: v.compression ?? 'none',
    columns: v.columns?.length ? [...v.columns] : null,
    limit: v.limit ?? null,
    csv: v.format === 'csv' ? { ...DEFAULT_CSV_OPTIONS, ...stripUndefined(v.csv ?? {}) } : null,
    parquet_compression: v.format === 'parquet' ? v.parquet_compression ?? 'zstd' : null
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>
}

export type CreateExportInput = z.input<typeof CreateExportSchema>

/** `status=completed,failed`: one or more names from `allowed`, as a set. */
function nameList<T extends string>(what: string, allowed: readonly T[]) {
  return z.string().max(200).transform((value, ctx) => {
    const names = [...new Set(value.split(',').map(s => s.trim()).filter(Boolean))]
    const unknown = names.filter(name => !(allowed as readonly string[]).includes(name))
    if (!names.length || unknown.length) {
      ctx.addIssue({ code: 'custom', message: `${unknown.length ? `Unknown ${what}: ${unknown.join(', ')}. ` : ''}Use a comma-separated list of: ${allowed.join(', ')}` })
      return z.NEVER
    }
    return names as T[]
  })
}

const instant = z.iso.datetime({ offset: true, message: 'Must be an ISO 8601 date-time, e.g. 2026-12-01T00:00:00Z' })
  .transform(value => new Date(value))

/** The export history's query: a page (keyset cursor) of the exports matching every filter given. */
export const ListExportsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
  /** Only this schedule's runs. */
  schedule_id: id.transform(v => v.toLowerCase()).optional(),
  status: nameList<JobStatus>('status', JOB_STATUS_IDS).optional(),
  /** `manual`, `api`, `schedule`, or a comma-separated list of them. */
  source: nameList<ExportSource>('source', EXPORT_SOURCES).optional(),
  dataset_id: id.transform(v => v.toLowerCase()).optional(),
  created_after: instant.optional(),
  created_before: instant.optional()
}).refine(v => !v.created_after || !v.created_before || v.created_after < v.created_before, {
  path: ['created_before'],
  message: 'Must be after created_after'
})

export type ListExportsQuery = z.output<typeof ListExportsQuerySchema>

/** GET /api/analytics/exports/events: every export of the caller's, or only `job_id`. */
export const ExportEventsQuerySchema = z.strictObject({
  job_id: id.transform(v => v.toLowerCase()).optional()
})

/** The `Last-Event-ID` a client resumes with: the id of the last event it received. */
export const LastEventIdSchema = z.string().regex(/^\d{1,18}$/, 'Must be the id of an event this stream sent')

/** `GET …/exports/{id}/download`'s query: `part` (1-based) of a multi-part export redirects to that part. */
export const DownloadQuerySchema = z.strictObject({
  part: z.string().regex(/^\d{1,6}$/, 'A part number, 1-based').optional().meta({ description: 'A multi-part export\'s part, 1-based: redirects to it instead of sending the ZIP' })
})

/** A job's part sizes (bytes, rows), or null when it is one file. */
export function partLimits(v: { max_part_mb?: number | null, max_part_rows?: number | null }): { bytes: number | null, rows: number | null } | null {
  if (!v.max_part_mb && !v.max_part_rows) return null
  return { bytes: v.max_part_mb ? v.max_part_mb * 1024 * 1024 : null, rows: v.max_part_rows ?? null }
}

/**
 * How full a part split by size is aimed to be: the writer cannot cut a file mid-row, so it aims
 * below the limit and rewrites a part that came out over it (see runExport).
 */
export const PART_FILL = 0.95

/** How many files an export of this many rows and bytes becomes (the preview's estimate). */
export function estimatePartCount(rows: number, bytes: number, limits: ReturnType<typeof partLimits>): number {
  if (!limits) return 1
  const byRows = limits.rows ? Math.ceil(rows / limits.rows) : 1
  const byBytes = limits.bytes ? Math.ceil(bytes / (limits.bytes * PART_FILL)) : 1
  return Math.max(1, byRows, byBytes)
}
