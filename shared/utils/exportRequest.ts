import type { CreateExportInput, ExportJobDTO } from '../types/exports'

/**
 * The request that made this export: sent again as it was (Retry, Export again), or the fields the
 * export dialog starts from (`?from=`, "change and export again").
 */
export function exportRequestOf(job: ExportJobDTO): CreateExportInput {
  const destinations = job.deliveries.map(d => d.destination_id).filter((id): id is string => !!id)
  return {
    dataset_id: job.dataset_id,
    format: job.format,
    start_date: job.filters.start_date,
    end_date: job.filters.end_date,
    account_ids: job.filters.account_ids,
    tag_ids: job.filters.tag_ids,
    row_filters: job.filters.row_filters.length ? job.filters.row_filters : null,
    compression: job.compression,
    parquet_compression: job.parquet_compression,
    columns: job.columns,
    limit: job.limit,
    csv: job.csv,
    max_part_mb: job.max_part_mb,
    max_part_rows: job.max_part_rows,
    ...(destinations.length && { destination_ids: destinations })
  }
}
