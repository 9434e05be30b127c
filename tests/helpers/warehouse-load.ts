import { randomUUID } from 'node:crypto'
import { copyFile, rename, rm } from 'node:fs/promises'
import { openWarehouse } from '#server/lib/warehouse/duckdb'

export interface LoadedRow {
  user_id: string
  account_id: string
  transaction_date: string
  /** ISO 8601 UTC, up to microseconds. */
  loaded_at: string
  amount?: string
}

/**
 * Loads rows into a warehouse that servers and workers have open read-only (DuckDB allows no writer
 * beside them): a copy of the file gets the rows and is renamed over it, as `npm run cli -- demo`
 * replaces the file. WarehouseReader sees the new file on its next connect (a new inode) and opens
 * it; queries already running finish on the old one. Returns the new rows' transaction ids.
 */
export async function loadRows(path: string, rows: LoadedRow[]): Promise<string[]> {
  const copy = `${path}.load-${process.pid}`
  await copyFile(path, copy)
  const ids = rows.map(() => randomUUID())
  try {
    const instance = await openWarehouse(copy, { readOnly: false })
    const connection = await instance.connect()
    try {
      for (const [i, row] of rows.entries()) {
        await connection.run(
          `INSERT INTO transactions (transaction_id, user_id, account_id, transaction_date, amount, currency, merchant, description, tag_ids, loaded_at)
           VALUES ($1::UUID, $2::UUID, $3::UUID, $4::DATE, $5::DECIMAL(18,2), 'GBP', 'Late loader', NULL, []::UUID[], $6::TIMESTAMPTZ)`,
          [ids[i]!, row.user_id, row.account_id, row.transaction_date, row.amount ?? '-1.00', row.loaded_at]
        )
      }
      await connection.run('CHECKPOINT')
    } finally {
      connection.closeSync()
      instance.closeSync()
    }
    await rename(copy, path)
  } catch (error) {
    await rm(copy, { force: true })
    throw error
  }
  return ids
}
