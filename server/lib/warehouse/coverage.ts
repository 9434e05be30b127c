import type { DuckDBConnection } from '@duckdb/node-api'
import type { DatasetCoverageDTO } from '#shared/types/datasets'
import type { Dataset } from './datasets'
import { buildDayCountQuery } from './query'

/**
 * The first and last dates each dataset has rows on for the user (by its date column), or nulls
 * for a dataset the user has no rows in.
 */
export async function datasetCoverage(connection: DuckDBConnection, userId: string, datasets: readonly Dataset[]): Promise<DatasetCoverageDTO[]> {
  const coverage: DatasetCoverageDTO[] = []
  for (const dataset of datasets) {
    const result = await connection.runAndReadAll(`SELECT strftime(min(day), '%Y-%m-%d') AS first, strftime(max(day), '%Y-%m-%d') AS last FROM (${buildDayCountQuery(dataset, userId)}) AS days`)
    const [row] = result.getRowObjectsJson() as { first: string | null, last: string | null }[]
    coverage.push({ dataset_id: dataset.id, start_date: row?.first ?? null, end_date: row?.last ?? null })
  }
  return coverage
}
