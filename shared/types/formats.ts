import { z } from 'zod'

/**
 * The export file formats: one row each, and everything else (the API's enum, content types, file
 * extensions, DuckDB's COPY options, the dialog's choices, the Telegram label) is read from here.
 * Adding a format means adding a row (and a writer, where DuckDB has none).
 */
export interface ExportFormatInfo {
  label: string
  /** Who it is for, in one line (the export dialog shows it). */
  description: string
  extension: string
  contentType: string
  /** The options of DuckDB's `COPY ... TO` that write this format. */
  copyOptions: string
  /** Plain text (CSV): formula guarding and lists as JSON apply. */
  text: boolean
  /** Compressions a user may choose for the whole file. */
  compressions: readonly string[]
}

export const EXPORT_FORMATS = {
  csv: {
    label: 'CSV',
    description: 'Excel, Sheets, any tool',
    extension: 'csv',
    contentType: 'text/csv; charset=utf-8',
    // RFC 4180 quoting, header row, ISO dates; DuckDB writes decimals in plain notation.
    copyOptions: 'FORMAT csv, HEADER true, DELIMITER \',\', QUOTE \'"\', ESCAPE \'"\', DATEFORMAT \'%Y-%m-%d\'',
    text: true,
    compressions: ['none', 'gzip', 'zstd']
  },
  parquet: {
    label: 'Parquet',
    description: 'pandas, DuckDB, BI tools',
    extension: 'parquet',
    contentType: 'application/vnd.apache.parquet',
    copyOptions: 'FORMAT parquet, COMPRESSION zstd',
    text: false,
    compressions: ['none']
  },
  // The dialog's rows for the formats below; their writers (copyOptions, text) come with the API side.
  jsonl: {
    label: 'JSON Lines',
    description: 'Engineers: one object per line, streams into anything',
    extension: 'jsonl',
    contentType: 'application/x-ndjson',
    copyOptions: 'FORMAT json',
    text: false,
    compressions: ['none', 'gzip', 'zstd']
  },
  json: {
    label: 'JSON',
    description: 'Web apps and scripts: one array',
    extension: 'json',
    contentType: 'application/json',
    copyOptions: 'FORMAT json, ARRAY true',
    text: false,
    compressions: ['none', 'gzip', 'zstd']
  },
  xlsx: {
    label: 'Excel',
    description: 'Analysts: opens with a double-click',
    extension: 'xlsx',
    contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    copyOptions: 'FORMAT xlsx',
    text: false,
    compressions: ['none']
  }
} as const satisfies Record<string, ExportFormatInfo>

export type ExportFormat = keyof typeof EXPORT_FORMATS

export const EXPORT_FORMAT_IDS = Object.keys(EXPORT_FORMATS) as [ExportFormat, ...ExportFormat[]]

export const ExportFormatSchema = z.enum(EXPORT_FORMAT_IDS, `Must be one of: ${EXPORT_FORMAT_IDS.map(f => `"${f}"`).join(', ')}`)

export function formatInfo(format: ExportFormat): ExportFormatInfo {
  return EXPORT_FORMATS[format]
}
