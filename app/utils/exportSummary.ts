import type { ExportFileOptions } from '~/composables/useExportRequest'
import { DEFAULT_CSV_OPTIONS, type CsvOptions } from '#shared/types/exports'
import { COMPRESSIONS, EXPORT_FORMATS, PARQUET_CODECS } from '#shared/types/formats'

/** The file choices in one line: "CSV · gzip · no limit", then only what differs from the defaults. */
export function fileOptionsSummary(options: ExportFileOptions): string {
  const format = EXPORT_FORMATS[options.format]
  const parts: string[] = [format.label]
  if (options.format === 'parquet') parts.push(PARQUET_CODECS[options.parquet_compression ?? 'zstd'].label)
  else if (format.compressions.length > 1) parts.push(options.compression && options.compression !== 'none' ? COMPRESSIONS[options.compression].label : 'uncompressed')
  parts.push(options.limit ? `first ${formatCount(options.limit)} rows` : 'no limit')
  if (options.max_part_mb) parts.push(`parts of ${formatCount(options.max_part_mb)} MB`)
  if (options.max_part_rows && format.maxRows !== null) parts.push(`${formatCount(options.max_part_rows)} rows a workbook`)
  const csv = options.csv as Partial<CsvOptions> | null | undefined
  if (options.format === 'csv' && csv && (Object.keys(DEFAULT_CSV_OPTIONS) as (keyof CsvOptions)[]).some(k => csv[k] !== undefined && csv[k] !== DEFAULT_CSV_OPTIONS[k])) parts.push('custom CSV options')
  return parts.join(' · ')
}

/** An export in one line: "Transactions · CSV · last month · 10 columns". */
export function exportSummary(title: string, format: keyof typeof EXPORT_FORMATS, dates: DateBounds, columns: number): string {
  return [title, EXPORT_FORMATS[format].label, datesPhrase(dates), `${formatCount(columns)} column${columns === 1 ? '' : 's'}`].join(' · ')
}
