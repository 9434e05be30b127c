import { DuckDBInstance, type DuckDBConnection, type Json } from '@duckdb/node-api'

export interface OpenWarehouseOptions {
  /** Default true: several processes (and outside tools) can then read the file at once. */
  readOnly?: boolean
  threads?: number
  /** DuckDB size string, e.g. '2GB'. Big sorts beyond it spill to tempDirectory. */
  memoryLimit?: string
  /** Where spills go; DuckDB's default is `<path>.tmp`, beside the warehouse file. */
  tempDirectory?: string
}

export async function openWarehouse(path: string, opts: OpenWarehouseOptions = {}): Promise<DuckDBInstance> {
  const options: Record<string, string> = {
    access_mode: opts.readOnly === false ? 'READ_WRITE' : 'READ_ONLY',
    // There is no network here and nothing we need beyond the built-in extensions; a query that
    // would need another should fail at once instead of hanging on a download.
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false'
  }
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new RangeError(`threads must be a positive integer, got ${opts.threads}`)
    options.threads = String(opts.threads)
  }
  if (opts.memoryLimit !== undefined) options.memory_limit = opts.memoryLimit
  if (opts.tempDirectory !== undefined) options.temp_directory = opts.tempDirectory
  return DuckDBInstance.create(path, options)
}

export type JsonRow = Record<string, Json>

/**
 * Runs a query and returns its rows as JSON-safe objects: BIGINT, DECIMAL, DATE and other values
 * with no exact JS number become strings, lists become arrays, so results compare and serialise
 * the same way every time.
 */
export async function queryRows<T = JsonRow>(connection: DuckDBConnection, sql: string): Promise<T[]> {
  const reader = await connection.runAndReadAll(sql)
  return reader.getRowObjectsJson() as T[]
}
