import type { DuckDBConnection } from '@duckdb/node-api'
import type { Dataset } from './datasets'
import { buildDayCountQuery, buildLatestLoadQuery } from './query'

/** What the warehouse says about one dataset for the user: the rest of the card comes from PostgreSQL. */
export interface WarehouseCoverage {
  dataset_id: string
  start_date: string | null
  end_date: string | null
  row_count: number
  updated_at: string | null
}

/**
 * For each dataset, the first and last dates it has the user's rows on (by its date column), how
 * many rows an export of all dates would have, and when the user's newest rows arrived. One
 * statement, so the page asks the warehouse once.
 */
export async function datasetCoverage(connection: DuckDBConnection, userId: string, datasets: readonly Dataset[]): Promise<WarehouseCoverage[]> {
  const perDataset = datasets.map((dataset, i) => `SELECT ${i} AS i, strftime(min(day), '%Y-%m-%d') AS first, strftime(max(day), '%Y-%m-%d') AS last, CAST(coalesce(sum(n), 0) AS DOUBLE) AS row_count FROM (${buildDayCountQuery(dataset, userId)}) AS days`)
  const result = await connection.runAndReadAll(`SELECT d.*, fresh.loaded_ms FROM (${perDataset.join('\nUNION ALL\n')}) AS d CROSS JOIN (${buildLatestLoadQuery(userId)}) AS fresh ORDER BY d.i`)
  const rows = result.getRowObjectsJson() as { i: number, first: string | null, last: string | null, row_count: number, loaded_ms: string | null }[]
  return rows.map(row => ({
    dataset_id: datasets[row.i]!.id,
    start_date: row.first,
    end_date: row.last,
    row_count: row.row_count,
    updated_at: row.loaded_ms === null ? null : new Date(Number(row.loaded_ms)).toISOString()
  }))
}
