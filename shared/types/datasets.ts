import { z } from 'zod'

/** The datasets a user can export, as the API lists them (the manifest is server/lib/warehouse/datasets.ts). */

export const DatasetColumnSchema = z.object({ name: z.string(), type: z.string(), description: z.string() })

export type DatasetColumnDTO = z.infer<typeof DatasetColumnSchema>

export const DatasetSchema = z.object({
  id: z.guid(),
  name: z.string(),
  title: z.string(),
  description: z.string(),
  time_grain: z.enum(['daily', 'monthly']),
  columns: z.array(DatasetColumnSchema),
  incremental: z.boolean().meta({ description: 'Whether schedules of this dataset may export only the rows loaded since their last run (range `since_last_run`)' })
}).meta({ id: 'Dataset' })

export type DatasetDTO = z.infer<typeof DatasetSchema>

export const DatasetListSchema = z.object({ datasets: z.array(DatasetSchema) })

/** The dates a dataset has the caller's rows on (GET /api/analytics/datasets/coverage). */
export const DatasetCoverageSchema = z.object({
  dataset_id: z.guid(),
  start_date: z.string().nullable().meta({ description: 'The first date with rows (YYYY-MM-DD); null when there are none' }),
  end_date: z.string().nullable().meta({ description: 'The last date with rows (YYYY-MM-DD); null when there are none' })
})

export type DatasetCoverageDTO = z.infer<typeof DatasetCoverageSchema>

export const DatasetCoverageListSchema = z.object({ coverage: z.array(DatasetCoverageSchema) })
