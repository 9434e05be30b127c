import { mkdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { DuckDBConnection } from '@duckdb/node-api'
import { resolveExportOptions, type CsvDelimiter, type ExportMetadata, type ExportOptions, type ExportProgress, type ExportResult } from '#shared/types/exports'
import { EXPORT_FORMATS, fileContentType, fileExtension, PARQUET_CODECS, type Compression, type ExportFormat } from '#shared/types/formats'
import { WarehouseMissingError, type WarehouseReader } from '../warehouse/reader'
import { deleteObject, UploadFencedError, type Storage } from '../storage/s3'
import { inlineUploader, UploadThreadExited, type Uploader } from '../storage/uploader'
import { findDataset, type Dataset } from '../warehouse/datasets'
import { buildDatasetQuery, outputColumns, QueryBuilderError, queryParams, type ProjectionOptions, type QueryParams } from '../warehouse/query'
import { bomPrefix } from './bom'
import { writeXlsx } from './xlsx'
import { ExportCancelled, ExportFailure, storageFailure, temporaryFailure } from './errors'
import type { ExportJob } from './jobs/record'
import { runFilters } from './jobs/incremental'

/** The job, and for a claimed run its claim: each attempt gets its own work file. */
export type ExportJobInput = Pick<ExportJob, 'id' | 'userId' | 'metadata'> & { claimId?: string | null }

export interface ExportRunOptions {
  warehouse: WarehouseReader
  storage: Storage
  workDir: string
  signal: AbortSignal
  onProgress: (progress: ExportProgress) => void
  /** Whether this run still owns the job: asked before the object is committed or removed. */
  fence?: () => Promise<boolean>
  /** Where the upload runs (default: on this thread). */
  uploader?: Uploader
}

// Overall percent: the query fills the first half of the bar, the upload the second.
const QUERY_SHARE = 50

/**
 * S3 keys are built from server-side ids only. Each claimed attempt writes its own object,
 * exports/{user_id}/{job_id}/{claim_id}.{ext}[.gz|.zst], so a run that lost its job can neither
 * overwrite nor delete the object of the run that took over, and an attempt can always remove what
 * it made. The claim id rather than the attempt number: a graceful release gives the number back.
 * Without a claim (a run outside the queue) the key is exports/{user_id}/{job_id}.{ext}, which is
 * also where jobs completed before per-attempt keys keep their files.
 */
export function exportKey(userId: string, jobId: string, format: ExportFormat, compression: Compression = 'none', claimId?: string | null): string {
  return `${exportPrefix(userId, jobId)}${claimId ? `/${claimId}` : ''}.${fileExtension(format, compression)}`
}

/** What every object of one job's key starts with (job ids are UUIDs: no other job's shares it). */
export function exportPrefix(userId: string, jobId: string): string {
  return `exports/${userId}/${jobId}`
}

/** How the query is shaped for the job's format and choices. */
export function projectionFor(metadata: ExportMetadata): ProjectionOptions {
  const options = resolveExportOptions(metadata)
  return {
    listsAsJson: EXPORT_FORMATS[metadata.format].text,
    guardFormulas: options.csv?.formula_guard ?? false,
    columns: options.columns,
    limit: options.limit
  }
}

/** The export's SQL for a job: the dataset query for that user and filters, shaped for the format. */
export function exportQuery(dataset: Dataset, userId: string, metadata: ExportMetadata): string {
  return invalidFiltersAsFailure(() => buildDatasetQuery(dataset, userId, runFilters(metadata), projectionFor(metadata)))
}

/** The values exportQuery's row filters are bound to. */
export function exportParams(dataset: Dataset, metadata: ExportMetadata): QueryParams {
  return invalidFiltersAsFailure(() => queryParams(dataset, runFilters(metadata)))
}

// A job's filters were valid when it was created; the dataset may have changed since.
function invalidFiltersAsFailure<T>(build: () => T): T {
  try {
    return build()
  } catch (error) {
    if (error instanceof QueryBuilderError) throw new ExportFailure('INVALID_FILTERS', `The export's filters are invalid (${error.field}).`, false, { cause: error })
    throw error
  }
}

// SQL literals for the only delimiters the API accepts: nothing from the request is spliced.
const DELIMITER_LITERALS: Record<CsvDelimiter, string> = { ',': '\',\'', ';': '\';\'', '\t': '\'\t\'', '|': '\'|\'' }

/** The COPY options for the format and the job's choices (each value from a fixed list). */
export function copyOptions(format: ExportFormat, options: ExportOptions): string {
  const parts: string[] = [EXPORT_FORMATS[format].copyOptions]
  if (options.csv) {
    const delimiter = DELIMITER_LITERALS[options.csv.delimiter]
    if (!delimiter) throw new ExportFailure('INVALID_OPTIONS', 'The export\'s CSV delimiter is invalid.', false)
    parts.push(`HEADER ${options.csv.header ? 'true' : 'false'}`, `DELIMITER ${delimiter}`)
  }
  if (format === 'parquet') parts.push(`COMPRESSION ${PARQUET_CODECS[options.parquet_compression ?? 'zstd']?.duckdb ?? 'zstd'}`)
  else if (options.compression === 'gzip' || options.compression === 'zstd') parts.push(`COMPRESSION ${options.compression}`)
  return parts.join(', ')
}

/** DuckDB's own writer: the rows go from the query to the file without passing through JS. */
export function copyStatement(sql: string, path: string, format: ExportFormat, options: ExportOptions = resolveExportOptions({ format })): string {
  return `COPY (${sql}) TO '${path.replaceAll('\'', '\'\'')}' (${copyOptions(format, options)})`
}

/** Bytes the file starts with before what the writer produced (a CSV byte order mark). */
export function filePrefix(options: ExportOptions): Buffer | undefined {
  return options.csv?.bom ? bomPrefix(options.compression) : undefined
}

/**
 * Runs one export: DuckDB's own COPY (or the Excel writer) writes the file — the result never
 * passes through JS — and the file is streamed to S3 while it is being written, so the upload
 * finishes shortly after the writer instead of starting then. The temporary file is removed
 * whatever happens.
 */
export async function runExport(job: ExportJobInput, opts: ExportRunOptions): Promise<ExportResult> {
  const { metadata } = job
  const dataset = findDataset(metadata.dataset_id)
  if (!dataset) throw new ExportFailure('DATASET_NOT_FOUND', 'This dataset is no longer available.', false)
  const sql = exportQuery(dataset, job.userId, metadata)
  const params = exportParams(dataset, metadata)

  const format = metadata.format
  const options = resolveExportOptions(metadata)
  const tempPath = join(opts.workDir, `${job.id}${job.claimId ? `.${job.claimId}` : ''}.${fileExtension(format, options.compression)}`)
  const prefix = filePrefix(options)
  // The work directory may have been removed under a long-running worker (tmp cleaners).
  await mkdir(opts.workDir, { recursive: true })
  // A failed upload stops the writer: the export cannot succeed any more.
  const uploadFailed = new AbortController()
  const signal = AbortSignal.any([opts.signal, uploadFailed.signal])
  let rowCount = 0
  let uploadedBytes = 0
  // Known once the writer is done: until then the writer's own progress is shown, after it the upload's.
  let totalBytes: number | null = null
  const reportUpload = () => opts.onProgress({
    phase: 'uploading',
    percent: QUERY_SHARE + Math.floor((100 - QUERY_SHARE - 1) * (totalBytes ? Math.min(1, uploadedBytes / totalBytes) : 1)),
    rows: rowCount,
    bytes_uploaded: uploadedBytes
  })
  try {
    const writing = EXPORT_FORMATS[format].writer === 'xlsx'
      ? onWarehouse(opts, signal, progress => writeXlsx(progress.connection, sql, outputColumns(dataset, projectionFor(metadata)), tempPath, {
          sheetName: dataset.name,
          signal,
          params,
          onRows: progress.rows
        }), metadata.expected_rows ?? null)
      : onWarehouse(opts, signal, ({ connection }) => connection.runAndReadAll(copyStatement(sql, tempPath, format, options), params.values, params.types).then(r => Number(r.getRowObjectsJson()[0]!.Count)))
    let writerFailed = false
    writing.catch(() => {
      writerFailed = true
    })
    const key = exportKey(job.userId, job.id, format, options.compression, job.claimId)
    const uploading = (opts.uploader ?? inlineUploader).upload(opts.storage, key, { path: tempPath, finished: writing, prefix }, {
      contentType: fileContentType(format, options.compression),
      signal,
      fence: opts.fence,
      // 8 MiB × 3 in flight keeps s3rver and S3 busy while bounding the buffers to ~24 MiB.
      partSize: 8 * 1024 * 1024,
      queueSize: 3,
      onProgress: (bytes) => {
        uploadedBytes = bytes
        if (totalBytes !== null) reportUpload()
      }
    }).catch((error: unknown) => {
      if (!writerFailed) uploadFailed.abort()
      throw error
    })
    const [written, uploaded] = await Promise.allSettled([writing.then(async (rows) => {
      rowCount = rows
      totalBytes = (await stat(tempPath)).size + (prefix?.length ?? 0)
      reportUpload()
    }), uploading])
    if (opts.signal.aborted) {
      // Cancelled as the upload finished: nothing will record the object, so it goes now.
      if (uploaded.status === 'fulfilled') await deleteObject(opts.storage, key).catch(() => {})
      throw new ExportCancelled()
    }
    // The writer's own failure, unless it only stopped because the upload had failed.
    if (written.status === 'rejected' && !uploadFailed.signal.aborted) throw written.reason
    if (uploaded.status === 'rejected') {
      if (uploaded.reason instanceof UploadFencedError) throw new ExportCancelled()
      if (uploaded.reason instanceof UploadThreadExited) throw temporaryFailure(uploaded.reason)
      throw storageFailure(uploaded.reason)
    }
    opts.onProgress({ phase: 'finalizing', percent: 99, rows: rowCount, bytes_uploaded: uploaded.value.size })
    return { s3_key: key, row_count: rowCount, file_size_bytes: uploaded.value.size, checksum_sha256: uploaded.value.sha256 }
  } finally {
    await rm(tempPath, { force: true })
  }
}

interface WarehouseWork {
  connection: DuckDBConnection
  /** For writers that see their rows (Excel): how many are written so far. */
  rows: (written: number) => void
}

/**
 * Runs a writer on a warehouse connection with progress and cancellation: DuckDB's COPY (progress
 * from DuckDB) or a writer fed from a streamed result (progress from its row count, against the
 * count taken when the export was created).
 */
async function onWarehouse(opts: ExportRunOptions, signal: AbortSignal, work: (w: WarehouseWork) => Promise<number>, expectedRows: number | null = null): Promise<number> {
  let connection: DuckDBConnection
  try {
    connection = await opts.warehouse.connect()
  } catch (error) {
    const missing = error instanceof WarehouseMissingError
    throw new ExportFailure('WAREHOUSE_UNAVAILABLE', 'The data warehouse is not available right now. Please try again later.', !missing, { cause: error })
  }
  // A cancel that came while connecting would otherwise never reach the query.
  if (signal.aborted) {
    connection.closeSync()
    throw new ExportCancelled()
  }
  let written: number | null = null
  const progressTimer = setInterval(() => {
    if (written !== null) {
      const share = expectedRows ? Math.min(1, written / expectedRows) : 0
      opts.onProgress({ phase: 'querying', percent: Math.min(QUERY_SHARE - 1, Math.floor(share * QUERY_SHARE)), rows: written, bytes_uploaded: null })
      return
    }
    const { percentage, rows_processed: rows } = connection.progress
    if (percentage >= 0) {
      opts.onProgress({ phase: 'querying', percent: Math.min(QUERY_SHARE - 1, Math.floor(percentage * QUERY_SHARE / 100)), rows: Number(rows), bytes_uploaded: null })
    }
  }, 250)
  opts.onProgress({ phase: 'querying', percent: 0, rows: 0, bytes_uploaded: null })
  const query = work({ connection, rows: (n) => {
    written = n
  } })
  // The connection is closed once DuckDB is done with it, whichever of the two below settles first.
  const closed = query.then(() => {}, () => {}).finally(() => connection.closeSync())
  // A cancel is answered at once, not when (or if) the interrupted query returns: an interrupt
  // that lands as the query finishes must not hold this worker's slot.
  let onAbort = () => {}
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      connection.interrupt()
      reject(new ExportCancelled())
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([query, aborted])
  } catch (error) {
    if (signal.aborted) {
      // The file may still be open in DuckDB; the caller removes it after we return, so wait briefly.
      const returned = await Promise.race([closed.then(() => true), new Promise<boolean>(resolve => setTimeout(resolve, 2000, false))])
      // Seen once under test: an interrupted COPY that never returned kept DuckDB's threads, and every
      // later export on that instance stalled behind it. Later exports get a fresh instance.
      if (!returned) opts.warehouse.discard()
      throw new ExportCancelled()
    }
    throw new ExportFailure('QUERY_FAILED', 'The dataset query failed. Please try again; if it keeps failing, contact support.', false, { cause: error })
  } finally {
    clearInterval(progressTimer)
    signal.removeEventListener('abort', onAbort)
    aborted.catch(() => {})
  }
}
