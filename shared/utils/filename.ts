import { fileExtension, type Compression, type ExportFormat } from '../types/formats'

/**
 * `<dataset>_<start>_to_<end>.<ext>` for a range, `<dataset>_all_dates.<ext>` without one, and
 * `_from_<start>` / `_until_<end>` for a range open at one end; the extension carries the
 * compression (`.csv.gz`).
 */
export function exportFilename(metadata: { dataset_name: string, format: ExportFormat, compression?: Compression | null, filters: { start_date: string | null, end_date: string | null } }): string {
  const { start_date: start, end_date: end } = metadata.filters
  const dates = start && end ? `${start}_to_${end}` : start ? `from_${start}` : end ? `until_${end}` : 'all_dates'
  return `${metadata.dataset_name}_${dates}.${fileExtension(metadata.format, metadata.compression ?? 'none')}`
}
