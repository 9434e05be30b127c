/** `<dataset_name>_<start>_<end>.<ext>`, with open ends named as such. */
export function exportFilename(metadata: { dataset_name: string, format: string, filters: { start_date: string | null, end_date: string | null } }): string {
  const { start_date: start, end_date: end } = metadata.filters
  return `${metadata.dataset_name}_${start ?? 'earliest'}_${end ?? 'latest'}.${metadata.format}`
}
