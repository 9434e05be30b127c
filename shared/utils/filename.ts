import { fileExtension, type Compression, type ExportFormat } from '../types/formats'

interface FilenameMetadata { dataset_name: string, format: ExportFormat, compression?: Compression | null, filters: { start_date: string | null, end_date: string | null } }

/**
 * `<dataset>_<start>_to_<end>.<ext>` for a range, `<dataset>_all_dates.<ext>` without one, and
 * `_from_<start>` / `_until_<end>` for a range open at one end; the extension carries the
 * compression (`.csv.gz`).
 */
export function exportFilename(metadata: FilenameMetadata): string {
  return `${exportStem(metadata)}.${fileExtension(metadata.format, metadata.compression ?? 'none')}`
}

/** A multi-part export's part `index` (1-based): `<dataset>_<range>_part-0001.<ext>`, more digits only past 9,999. */
export function exportPartFilename(metadata: FilenameMetadata, index: number): string {
  return `${exportStem(metadata)}_part-${String(index).padStart(4, '0')}.${fileExtension(metadata.format, metadata.compression ?? 'none')}`
}

/** A multi-part export's manifest: `<dataset>_<range>_manifest.json`. */
export function exportManifestFilename(metadata: FilenameMetadata): string {
  return `${exportStem(metadata)}_manifest.json`
}

/** The ZIP of every part and the manifest: `<dataset>_<range>.zip`. */
export function exportZipFilename(metadata: FilenameMetadata): string {
  return `${exportStem(metadata)}.zip`
}

function exportStem(metadata: FilenameMetadata): string {
  const { start_date: start, end_date: end } = metadata.filters
  const dates = start && end ? `${start}_to_${end}` : start ? `from_${start}` : end ? `until_${end}` : 'all_dates'
  return `${metadata.dataset_name}_${dates}`
}
