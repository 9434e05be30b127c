import { z } from 'zod'

/**
 * The export file formats: one row each, and everything else (the API's enum and its allowed
 * combinations, content types, file extensions, DuckDB's COPY options, the dialog's choices, the
 * Telegram label) is read from here. Adding a format means adding a row (and a writer, where
 * DuckDB has none).
 */

/** Whole-file compressions; each one's suffix and content type apply to every format allowing it. */
export const COMPRESSIONS = {
  none: { label: 'None', description: 'Opens directly', suffix: '', contentType: null },
  // The file is delivered compressed (no Content-Encoding), so the type names the container.
  gzip: { label: 'gzip', description: '.gz, opens everywhere', suffix: '.gz', contentType: 'application/gzip' },
  zstd: { label: 'zstd', description: '.zst, smaller and faster', suffix: '.zst', contentType: 'application/zstd' }
} as const satisfies Record<string, { label: string, description: string, suffix: string, contentType: string | null }>

export type Compression = keyof typeof COMPRESSIONS
export const COMPRESSION_IDS = Object.keys(COMPRESSIONS) as [Compression, ...Compression[]]

/**
 * Parquet's internal (per page) codecs, each with DuckDB's name for it: zstd by default (small and
 * fast), snappy for older readers, lz4 as LZ4_RAW (the codec the old Hadoop LZ4 was replaced by).
 */
export const PARQUET_CODECS = {
  zstd: { label: 'zstd', description: 'Small and fast; every current reader', duckdb: 'zstd' },
  snappy: { label: 'Snappy', description: 'For older readers (Spark 2, Hive)', duckdb: 'snappy' },
  gzip: { label: 'gzip', description: 'Readers without zstd or Snappy', duckdb: 'gzip' },
  lz4: { label: 'LZ4', description: 'Fastest to read; written as LZ4_RAW', duckdb: 'lz4_raw' },
  brotli: { label: 'Brotli', description: 'Smallest; slowest to write', duckdb: 'brotli' },
  uncompressed: { label: 'Uncompressed', description: 'No codec: the largest file', duckdb: 'uncompressed' }
} as const satisfies Record<string, { label: string, description: string, duckdb: string }>

export type ParquetCompression = keyof typeof PARQUET_CODECS
export const PARQUET_COMPRESSIONS = Object.keys(PARQUET_CODECS) as [ParquetCompression, ...ParquetCompression[]]

export interface ExportFormatInfo {
  label: string
  /** Who it is for, in one line (the export dialog shows it). */
  description: string
  extension: string
  /** The content type of the uncompressed file. */
  contentType: string
  /** 'duckdb': DuckDB's own `COPY ... TO` with copyOptions; 'xlsx': the streaming Excel writer. */
  writer: 'duckdb' | 'xlsx'
  /** The options of DuckDB's `COPY ... TO` that write this format (duckdb writer only). */
  copyOptions: string
  /** No list type in the file: lists are written as JSON array text. */
  text: boolean
  /** Compressions a user may choose for the whole file (the first is the default). */
  compressions: readonly Compression[]
  /** Data rows one file can hold (Excel: 1,048,576 rows a sheet, one of them the header). */
  maxRows: number | null
}

export const EXPORT_FORMATS = {
  csv: {
    label: 'CSV',
    description: 'Excel, Sheets, any tool',
    extension: 'csv',
    contentType: 'text/csv; charset=utf-8',
    writer: 'duckdb',
    // RFC 4180 quoting, ISO dates; DuckDB writes decimals in plain notation. Delimiter and header
    // come from the request's csv options.
    copyOptions: 'FORMAT csv, QUOTE \'"\', ESCAPE \'"\', DATEFORMAT \'%Y-%m-%d\'',
    text: true,
    compressions: ['none', 'gzip', 'zstd'],
    maxRows: null
  },
  parquet: {
    label: 'Parquet',
    description: 'pandas, DuckDB, BI tools',
    extension: 'parquet',
    contentType: 'application/vnd.apache.parquet',
    writer: 'duckdb',
    // The codec (COMPRESSION) comes from the request's parquet_compression.
    copyOptions: 'FORMAT parquet',
    text: false,
    // Parquet compresses inside the file; a whole-file codec would make it unreadable as Parquet.
    compressions: ['none'],
    maxRows: null
  },
  jsonl: {
    label: 'JSON Lines',
    description: 'Engineers: one object per line, streams into anything',
    extension: 'jsonl',
    contentType: 'application/x-ndjson',
    writer: 'duckdb',
    // DuckDB's FORMAT json is newline-delimited: one object per line, `\n` after each.
    copyOptions: 'FORMAT json',
    text: false,
    compressions: ['none', 'gzip', 'zstd'],
    maxRows: null
  },
  json: {
    label: 'JSON',
    description: 'Web apps and scripts: one array',
    extension: 'json',
    contentType: 'application/json',
    writer: 'duckdb',
    copyOptions: 'FORMAT json, ARRAY true',
    text: false,
    compressions: ['none', 'gzip', 'zstd'],
    maxRows: null
  },
  xlsx: {
    label: 'Excel',
    description: 'Analysts: opens with a double-click',
    extension: 'xlsx',
    contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    writer: 'xlsx',
    copyOptions: '',
    text: true,
    // An .xlsx is a zip already.
    compressions: ['none'],
    maxRows: 1_048_575
  }
} as const satisfies Record<string, ExportFormatInfo>

export type ExportFormat = keyof typeof EXPORT_FORMATS

export const EXPORT_FORMAT_IDS = Object.keys(EXPORT_FORMATS) as [ExportFormat, ...ExportFormat[]]

export const ExportFormatSchema = z.enum(EXPORT_FORMAT_IDS, `Must be one of: ${EXPORT_FORMAT_IDS.map(f => `"${f}"`).join(', ')}`)

export function formatInfo(format: ExportFormat): ExportFormatInfo {
  return EXPORT_FORMATS[format]
}

/** The file's extension with the compression's suffix: `csv`, `csv.gz`, `jsonl.zst`. */
export function fileExtension(format: ExportFormat, compression: Compression = 'none'): string {
  return `${EXPORT_FORMATS[format].extension}${COMPRESSIONS[compression].suffix}`
}

/** What the stored object and the download are: the container's type when compressed. */
export function fileContentType(format: ExportFormat, compression: Compression = 'none'): string {
  return COMPRESSIONS[compression].contentType ?? EXPORT_FORMATS[format].contentType
}

/** The format as a person names it: 'Excel', 'CSV', 'CSV (gzip)'. */
export function formatLabel(format: ExportFormat, compression: Compression = 'none'): string {
  const label = EXPORT_FORMATS[format]?.label ?? String(format)
  return compression === 'none' || !COMPRESSIONS[compression] ? label : `${label} (${COMPRESSIONS[compression].label})`
}
