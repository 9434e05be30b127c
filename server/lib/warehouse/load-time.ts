import type { WarehouseReader } from './reader'
import type { Dataset } from './datasets'

/**
 * The warehouse's latest load time for a dataset's incremental column, in microseconds since the
 * epoch (null when the table is empty): an incremental run's cutoff. Read over every user's rows,
 * not the caller's: the cutoff says how far the warehouse has been loaded, which is the same for
 * everyone, and a user without new rows then still moves forward.
 */
export async function latestLoadTime(warehouse: WarehouseReader, dataset: Dataset): Promise<bigint | null> {
  if (!dataset.incrementalColumn) throw new TypeError(`${dataset.name} has no load time`)
  const connection = await warehouse.connect()
  try {
    const reader = await connection.runAndReadAll(`SELECT CAST(epoch_us(max("${dataset.incrementalColumn}")) AS VARCHAR) AS us FROM main.transactions`)
    const value = reader.getRows()[0]?.[0]
    return value === null || value === undefined ? null : BigInt(value as string)
  } finally {
    connection.closeSync()
  }
}
