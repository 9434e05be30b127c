import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { DuckDBConnection } from '@duckdb/node-api'
import type { ExportMetadata, ExportProgress, ExportResult } from '../../../shared/types/exports'
import { EXPORT_FORMATS, type ExportFormat } from '../../../shared/types/formats'
import { WarehouseMissingError, type WarehouseReader } from '../warehouse/reader'
import { uploadFile, UploadFencedError, type Storage } from '../storage/s3'
import { findDataset, type Dataset } from '../warehouse/datasets'
import { buildDatasetQuery, QueryBuilderError } from '../warehouse/query'
import { ExportCancelled, ExportFailure, storageFailure } from './errors'
import type { ExportJob } from './jobs/record'

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
}

// Overall percent: the query fills the first half of the bar, the upload the second.
const QUERY_SHARE = 50

/** S3 keys are built from server-side ids only: exports/{user_id}/{job_id}.{ext}. */
export function exportKey(userId: string, jobId: string, format: ExportFormat): string {
  return `exports/${userId}/${jobId}.${EXPORT_FORMATS[format].extension}`
}

/** The export's SQL for a job: the dataset query for that user and filters, shaped for the format. */
export function exportQuery(dataset: Dataset, userId: string, metadata: ExportMetadata): string {
  try {
    return buildDatasetQuery(dataset, userId, metadata.filters, { listsAsJson: EXPORT_FORMATS[metadata.format].text, guardFormulas: EXPORT_FORMATS[metadata.format].text })
  } catch (error) {
    if (error instanceof QueryBuilderError) throw new ExportFailure('INVALID_FILTERS', `The export's filters are invalid (${error.field}).`, false, { cause: error })
    throw error
  }
}

/** DuckDB's own writer: the rows go from the query to the file without passing through JS. */
export function copyStatement(sql: string, path: string, format: ExportFormat): string {
  return `COPY (${sql}) TO '${path.replaceAll('\'', '\'\'')}' (${EXPORT_FORMATS[format].copyOptions})`
}

/**
 * Runs one export: DuckDB's own COPY writes the file (the result never passes through JS), then
 * it is streamed to S3. The temporary file is removed whatever happens.
 */
export async function runExport(job: ExportJobInput, opts: ExportRunOptions): Promise<ExportResult> {
  const { metadata } = job
  const dataset = findDataset(metadata.dataset_id)
  if (!dataset) throw new ExportFailure('DATASET_NOT_FOUND', 'This dataset is no longer available.', false)
  const sql = exportQuery(dataset, job.userId, metadata)

  const format = metadata.format
  const tempPath = join(opts.workDir, `${job.id}${job.claimId ? `.${job.claimId}` : ''}.${EXPORT_FORMATS[format].extension}`)
  // The work directory may have been removed under a long-running worker (tmp cleaners).
  await mkdir(opts.workDir, { recursive: true })
  try {
    const rowCount = await copyToFile(opts, sql, tempPath, format)
    if (opts.signal.aborted) throw new ExportCancelled()
    opts.onProgress({ phase: 'uploading', percent: QUERY_SHARE, rows: rowCount, bytes_uploaded: 0 })
    const key = exportKey(job.userId, job.id, format)
    const uploaded = await uploadFile(opts.storage, key, tempPath, {
      contentType: EXPORT_FORMATS[format].contentType,
      signal: opts.signal,
      fence: opts.fence,
      // 8 MiB × 3 in flight keeps s3rver and S3 busy while bounding the buffers to ~24 MiB.
      partSize: 8 * 1024 * 1024,
      queueSize: 3,
      onProgress: (bytes, total) => opts.onProgress({
        phase: 'uploading',
        percent: QUERY_SHARE + Math.floor((100 - QUERY_SHARE - 1) * (total ? bytes / total : 1)),
        rows: rowCount,
        bytes_uploaded: bytes
      })
    }).catch((error) => {
      if (opts.signal.aborted || error instanceof UploadFencedError) throw new ExportCancelled()
      throw storageFailure(error)
    })
    opts.onProgress({ phase: 'finalizing', percent: 99, rows: rowCount, bytes_uploaded: uploaded.size })
    return { s3_key: key, row_count: rowCount, file_size_bytes: uploaded.size, checksum_sha256: uploaded.sha256 }
  } finally {
    await rm(tempPath, { force: true })
  }
}

async function copyToFile(opts: ExportRunOptions, sql: string, path: string, format: ExportFormat): Promise<number> {
  let connection: DuckDBConnection
  try {
    connection = await opts.warehouse.connect()
  } catch (error) {
    const missing = error instanceof WarehouseMissingError
    throw new ExportFailure('WAREHOUSE_UNAVAILABLE', 'The data warehouse is not available right now. Please try again later.', !missing, { cause: error })
  }
  // A cancel that came while connecting would otherwise never reach the query.
  if (opts.signal.aborted) {
    connection.closeSync()
    throw new ExportCancelled()
  }
  const progressTimer = setInterval(() => {
    const { percentage, rows_processed: rows } = connection.progress
    if (percentage >= 0) {
      opts.onProgress({ phase: 'querying', percent: Math.min(QUERY_SHARE - 1, Math.floor(percentage * QUERY_SHARE / 100)), rows: Number(rows), bytes_uploaded: null })
    }
  }, 250)
  opts.onProgress({ phase: 'querying', percent: 0, rows: 0, bytes_uploaded: null })
  const query = connection.runAndReadAll(copyStatement(sql, path, format))
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
    opts.signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    const result = await Promise.race([query, aborted])
    return Number(result.getRowObjectsJson()[0]!.Count)
  } catch (error) {
    if (opts.signal.aborted) {
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
    opts.signal.removeEventListener('abort', onAbort)
    aborted.catch(() => {})
  }
}
