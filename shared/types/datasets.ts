import { z } from 'zod'

/** The datasets a user can export, as the API lists them (the manifest is server/lib/warehouse/datasets.ts). */

export const DatasetColumnSchema = z.object({ name: z.string(), type: z.string(), description: z.string() })

export type DatasetColumnDTO = z.infer<typeof DatasetColumnSchema>

export const DatasetSchema = z.object({
  id: z.guid(),
  name: z.string(),
  title: z.string(),
  description: z.string(),
  row_description: z.string().meta({ description: 'What one row is ("One row per transaction")' }),
  time_grain: z.enum(['daily', 'monthly']),
  columns: z.array(DatasetColumnSchema),
  incremental: z.boolean().meta({ description: 'Whether schedules of this dataset may export only the rows loaded since their last run (range `since_last_run`)' })
}).meta({ id: 'Dataset' })

export type DatasetDTO = z.infer<typeof DatasetSchema>

export const DatasetListSchema = z.object({ datasets: z.array(DatasetSchema) })

/** The caller's latest export of a dataset, for "CSV, yesterday — Export again". */
export const DatasetLastExportSchema = z.object({
  job_id: z.guid(),
  format: z.string(),
  status: z.string(),
  created_at: z.iso.datetime()
})

export type DatasetLastExportDTO = z.infer<typeof DatasetLastExportSchema>

/** What the caller has in a dataset and does with it (GET /api/analytics/datasets/coverage). */
export const DatasetCoverageSchema = z.object({
  dataset_id: z.guid(),
  start_date: z.string().nullable().meta({ description: 'The first date with rows (YYYY-MM-DD); null when there are none' }),
  end_date: z.string().nullable().meta({ description: 'The last date with rows (YYYY-MM-DD); null when there are none' }),
  row_count: z.int().nonnegative().meta({ description: 'How many rows an export of all dates would have' }),
  updated_at: z.iso.datetime().nullable().meta({ description: 'When the newest of the caller\'s rows reached the warehouse; null when there are none' }),
  last_export: DatasetLastExportSchema.nullable().meta({ description: 'The caller\'s newest export of the dataset (any source, not deleted); null when there is none' }),
  schedule_count: z.int().nonnegative().meta({ description: 'How many of the caller\'s schedules export the dataset' })
})

export type DatasetCoverageDTO = z.infer<typeof DatasetCoverageSchema>

export const DatasetCoverageListSchema = z.object({ coverage: z.array(DatasetCoverageSchema) })
