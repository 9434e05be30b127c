import { mkdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { DuckDBConnection } from '@duckdb/node-api'
import { PART_FILL, partLimits, resolveExportOptions, type CsvDelimiter, type ExportManifest, type ExportMetadata, type ExportOptions, type ExportPartRecord, type ExportProgress, type ExportResult } from '#shared/types/exports'
import { exportPartFilename } from '#shared/utils/filename'
import { EXPORT_FORMATS, fileContentType, fileExtension, PARQUET_CODECS, type Compression, type ExportFormat } from '#shared/types/formats'
import { WarehouseMissingError, type WarehouseReader } from '../warehouse/reader'
import { deleteObject, UploadFencedError, uploadStream, type Storage } from '../storage/s3'
import { inlineUploader, UploadThreadExited, type Uploader } from '../storage/uploader'
import { findDataset, type Dataset } from '../warehouse/datasets'
import { buildDatasetQuery, outputColumns, QueryBuilderError, queryParams, tableSlice, type ProjectionOptions, type QueryParams } from '../warehouse/query'
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
  /**
   * A multi-part export: the bytes of this run's part files on the work disk, reported each time a
   * part's file is complete (the most they hold: files only grow while written, then go). For tests
   * and benchmarks holding the disk bound.
   */
  onWorkBytes?: (bytes: number) => void
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

/**
 * A multi-part export's object `name` (`part-0001.csv.gz`, `manifest.json`): inside the attempt's
 * own folder, exports/{user_id}/{job_id}/{claim_id}/, for the same reasons as exportKey.
 */
export function exportPartKey(userId: string, jobId: string, claimId: string | null | undefined, name: string): string {
  return `${exportPrefix(userId, jobId)}/${claimId ? `${claimId}/` : ''}${name}`
}

/** Every object a finished run recorded: the file, or a multi-part export's parts and manifest. */
export function resultKeys(metadata: Pick<ExportMetadata, 's3_key' | 'parts'>): string[] {
  return [...(metadata.s3_key ? [metadata.s3_key] : []), ...(metadata.parts ?? []).map(part => part.key)]
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

/** One part's rows of the export (`LIMIT rows OFFSET offset` in the export's order), as SQL. */
export function exportSliceQuery(dataset: Dataset, userId: string, metadata: ExportMetadata, offset: number, rows: number): string {
  // Sliced on the transactions table where the dataset allows: the rows before the slice are then
  // skipped by a scan of that table, not computed (joins, lists) and dropped.
  if (tableSlice(dataset, metadata.filters, projectionFor(metadata))) {
    return invalidFiltersAsFailure(() => buildDatasetQuery(dataset, userId, metadata.filters, { ...projectionFor(metadata), slice: { offset, rows } }))
  }
  return `SELECT * FROM (${exportQuery(dataset, userId, metadata)}) AS export_rows LIMIT ${rows} OFFSET ${offset}`
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
  if (partLimits(metadata)) return runPartedExport(job, opts, { dataset, params, options })
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
      ...UPLOAD_PARTS,
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
    if (uploaded.status === 'rejected') throw uploadFailure(uploaded.reason)
    opts.onProgress({ phase: 'finalizing', percent: 99, rows: rowCount, bytes_uploaded: uploaded.value.size })
    return { s3_key: key, row_count: rowCount, file_size_bytes: uploaded.value.size, checksum_sha256: uploaded.value.sha256 }
  } finally {
    await rm(tempPath, { force: true })
  }
}

/** An upload's failure as the export's: lost ownership is a cancel, a crashed thread is retried. */
function uploadFailure(error: unknown): Error {
  if (error instanceof UploadFencedError) return new ExportCancelled()
  if (error instanceof UploadThreadExited) return temporaryFailure(error)
  return storageFailure(error)
}

// 8 MiB × 3 in flight keeps s3rver and S3 busy while bounding the buffers to ~24 MiB.
const UPLOAD_PARTS = { partSize: 8 * 1024 * 1024, queueSize: 3 } as const

/** The first try at a part split by size alone (at most this many rows wasted), rewritten at the size its bytes per row give. */
const FIRST_PART_ROWS = 10_000

interface PartedRun { dataset: Dataset, params: QueryParams, options: ExportOptions }

interface WrittenPart { path: string, rows: number, bytes: number }

/**
 * A multi-part export (max_part_mb / max_part_rows). Each part is its own COPY (or workbook) of the
 * next rows, `LIMIT n OFFSET k` in the export's order on one connection (exportSliceQuery), so every part is a
 * complete file from the format's own writer (header, BOM, compression, Parquet footer), and the
 * rows never pass through JS. The order is stable between the slices: the dataset's total order
 * where the query sorts, else the read-only warehouse's insertion order (DuckDB preserves it).
 * Each part uploads while it is written, and part k+1 is written while part k's upload ends; part
 * k+2 waits for that upload (which removes its file), so the work disk holds at most two parts. A
 * part split by size is aimed at PART_FILL of the limit from the last part's bytes per row and
 * rewritten with fewer rows if it came out over. Progress is the rows written against the count
 * taken when the export was created.
 * The manifest is uploaded last, once every part is committed: a set without it is not complete,
 * and whatever this run committed is removed when it does not finish.
 */
async function runPartedExport(job: ExportJobInput, opts: ExportRunOptions, run: PartedRun): Promise<ExportResult> {
  const { metadata } = job
  const { dataset, params, options } = run
  const format = metadata.format
  const limits = partLimits(metadata)!
  const maxRows = Math.min(limits.rows ?? Number.MAX_SAFE_INTEGER, EXPORT_FORMATS[format].maxRows ?? Number.MAX_SAFE_INTEGER)
  const extension = fileExtension(format, options.compression)
  const contentType = fileContentType(format, options.compression)
  const prefix = filePrefix(options)
  const base = join(opts.workDir, `${job.id}${job.claimId ? `.${job.claimId}` : ''}`)
  await mkdir(opts.workDir, { recursive: true })
  const uploadFailed = new AbortController()
  const signal = AbortSignal.any([opts.signal, uploadFailed.signal])
  let uploadError: unknown
  const parts: ExportPartRecord[] = []
  const committed: string[] = []
  const onDisk = new Set<string>()
  let rowsWritten = 0

  const writePart = async (connection: DuckDBConnection, path: string, offset: number, rows: number, onRows: (n: number) => void): Promise<WrittenPart> => {
    const slice = exportSliceQuery(dataset, job.userId, metadata, offset, rows)
    const count = EXPORT_FORMATS[format].writer === 'xlsx'
      ? await writeXlsx(connection, slice, outputColumns(dataset, projectionFor(metadata)), path, { sheetName: dataset.name, signal, params, onRows })
      : Number((await connection.runAndReadAll(copyStatement(slice, path, format, options), params.values, params.types)).getRowObjectsJson()[0]!.Count)
    return { path, rows: count, bytes: (await stat(path)).size + (prefix?.length ?? 0) }
  }
  const removeFile = async (path: string) => {
    await rm(path, { force: true })
    onDisk.delete(path)
  }
  /**
   * Writes a part while uploading it (the tail, as for one file). Its upload commits only once the
   * part is kept: a part that came out the wrong size is dropped, its upload aborted before any
   * commit (the commit waits for the decision in the fence).
   */
  const writeAndUpload = async (connection: DuckDBConnection, index: number, offset: number, rows: number, onRows: (n: number) => void) => {
    const path = `${base}.part-${index}.${extension}`
    await rm(path, { force: true })
    onDisk.add(path)
    const key = exportPartKey(job.userId, job.id, job.claimId, `part-${String(index).padStart(4, '0')}.${extension}`)
    let decide = (_keep: boolean) => {}
    const decided = new Promise<boolean>((resolve) => {
      decide = resolve
    })
    const dropped = new AbortController()
    let writerFailed = false
    const writing = writePart(connection, path, offset, rows, onRows)
    writing.catch(() => {
      writerFailed = true
    })
    const upload = (opts.uploader ?? inlineUploader).upload(opts.storage, key, { path, finished: writing, prefix }, {
      contentType,
      signal: AbortSignal.any([signal, dropped.signal]),
      fence: async () => await decided && (opts.fence ? await opts.fence() : true),
      ...UPLOAD_PARTS
    })
    // An upload that fails stops the writer (unless the writer failed first, or the part was dropped).
    const uploaded = upload.catch((error: unknown) => {
      if (dropped.signal.aborted) return null
      // The first failure is the run's: the others are uploads it stopped.
      if (!writerFailed && uploadError === undefined) {
        uploadError = error
        uploadFailed.abort()
      }
      throw error
    })
    uploaded.catch(() => {})
    const part = await writing.catch(async (error: unknown) => {
      await uploaded.catch(() => {})
      throw error
    })
    return {
      part,
      key,
      keep: () => {
        decide(true)
        return uploaded
      },
      drop: async () => {
        dropped.abort()
        decide(false)
        await uploaded.catch(() => {})
        await removeFile(path)
      }
    }
  }

  // Each part's upload, by index, settled once its object is committed and its file removed.
  const uploads: Array<Promise<void>> = []
  try {
    await onWarehouse(opts, signal, async ({ connection, rows: progressRows }) => {
      const target = (limits.bytes ?? 0) * PART_FILL
      // Rows that make a part of the target size, at this part's bytes per row.
      const fitting = (part: WrittenPart) => Math.min(maxRows, Math.max(1, Math.floor(part.rows * target / Math.max(1, part.bytes))))
      let rowsPerPart = limits.bytes ? Math.min(maxRows, FIRST_PART_ROWS) : maxRows
      for (let index = 1; ; index++) {
        // At most two parts on the work disk: the one before this may still be uploading, the one
        // before that must be gone.
        await uploads[index - 3]
        signal.throwIfAborted()
        const offset = rowsWritten
        const write = () => writeAndUpload(connection, index, offset, rowsPerPart, n => progressRows(offset + n))
        let attempt = await write()
        if (limits.bytes) {
          if (index === 1 && attempt.part.rows === rowsPerPart && rowsPerPart < maxRows && attempt.part.bytes < target / 2) {
            rowsPerPart = fitting(attempt.part)
            await attempt.drop()
            attempt = await write()
          }
          while (attempt.part.bytes > limits.bytes && attempt.part.rows > 1) {
            rowsPerPart = Math.min(fitting(attempt.part), attempt.part.rows - 1)
            await attempt.drop()
            attempt = await write()
          }
        }
        const { part, key } = attempt
        // The rows ended exactly at the previous part.
        if (part.rows === 0 && index > 1) {
          await attempt.drop()
          break
        }
        rowsWritten += part.rows
        progressRows(rowsWritten)
        opts.onWorkBytes?.(await workBytes(onDisk))
        uploads[index - 1] = attempt.keep().then((result) => {
          committed.push(key)
          parts[index - 1] = { key, filename: exportPartFilename(metadata, index), rows: part.rows, bytes: result!.size, checksum_sha256: result!.sha256 }
        }).finally(() => removeFile(part.path))
        uploads[index - 1]!.catch(() => {})
        if (part.rows < rowsPerPart) break
        if (limits.bytes) rowsPerPart = fitting(part)
      }
      return rowsWritten
    }, metadata.expected_rows ?? null)
    await Promise.all(uploads)
    const manifest: ExportManifest = {
      job_id: job.id,
      dataset: metadata.dataset_name,
      format,
      compression: options.compression,
      created_at: new Date().toISOString(),
      row_count: rowsWritten,
      bytes: parts.reduce((sum, part) => sum + part.bytes, 0),
      parts: parts.map(({ key: _key, ...part }) => part)
    }
    const manifestKey = exportPartKey(job.userId, job.id, job.claimId, 'manifest.json')
    const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)
    const written = await uploadStream(opts.storage, manifestKey, Readable.from([body]), { contentType: 'application/json', signal: opts.signal, fence: opts.fence })
      .catch((error: unknown) => {
        throw opts.signal.aborted ? new ExportCancelled() : uploadFailure(error)
      })
    committed.push(manifestKey)
    if (opts.signal.aborted) throw new ExportCancelled()
    opts.onProgress({ phase: 'finalizing', percent: 99, rows: rowsWritten, bytes_uploaded: manifest.bytes })
    return { s3_key: manifestKey, row_count: rowsWritten, file_size_bytes: manifest.bytes, checksum_sha256: written.sha256, parts }
  } catch (error) {
    // Not finished: nothing will record this run's objects, so they go now (the orphan sweep
    // catches what a failed delete leaves).
    await Promise.allSettled(uploads)
    await Promise.all(committed.map(key => deleteObject(opts.storage, key).catch(() => {})))
    if (opts.signal.aborted) throw new ExportCancelled()
    if (uploadError !== undefined) throw uploadFailure(uploadError)
    throw error
  } finally {
    await Promise.all([...onDisk].map(removeFile))
  }
}

async function workBytes(paths: Iterable<string>): Promise<number> {
  const sizes = await Promise.all([...paths].map(path => stat(path).then(info => info.size, () => 0)))
  return sizes.reduce((sum, size) => sum + size, 0)
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
