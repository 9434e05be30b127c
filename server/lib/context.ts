import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api'
import type { Config } from './config.ts'
import { createDb, type Db } from './db/client.ts'
import { createStorage, type Storage } from './storage/s3.ts'
import { openWarehouse, type OpenWarehouseOptions } from './warehouse/duckdb.ts'

/** Everything a request handler or a worker needs, built once per process from the config. */
export interface AppContext {
  config: Config
  db: Db
  storage: Storage
  warehouse: WarehouseReader
  close: () => Promise<void>
}

export function createAppContext(config: Config): AppContext {
  const db = createDb(config.DATABASE_URL)
  const warehouse = new WarehouseReader(config.WAREHOUSE_PATH, {
    memoryLimit: config.DUCKDB_MEMORY_LIMIT,
    threads: config.DUCKDB_THREADS,
    // The warehouse's own folder may be read-only; spill files belong with the other work files.
    tempDirectory: join(config.EXPORT_WORK_DIR, 'duckdb-spill')
  })
  return {
    config,
    db,
    storage: createStorage(config),
    warehouse,
    close: async () => {
      warehouse.close()
      await db.$disconnect()
    }
  }
}

export class WarehouseMissingError extends Error {}

/**
 * The warehouse, opened read-only so several server and worker processes (and outside tools) can
 * read it at once. `npm run cli -- demo` replaces the file by renaming a new one over it; an open
 * instance would keep reading the old inode, so we reopen when the file's identity changes.
 */
export class WarehouseReader {
  private instance?: DuckDBInstance
  private identity?: string
  private opening?: Promise<DuckDBInstance>

  constructor(readonly path: string, private readonly options: OpenWarehouseOptions = {}) {}

  async connect(): Promise<DuckDBConnection> {
    const instance = await this.current()
    return instance.connect()
  }

  private async current(): Promise<DuckDBInstance> {
    const info = await stat(this.path).catch(() => null)
    if (!info) throw new WarehouseMissingError(`No warehouse at ${this.path}; build one with: npm run cli -- demo`)
    const identity = `${info.dev}:${info.ino}:${info.mtimeMs}`
    if (this.instance && this.identity === identity) return this.instance
    this.opening ??= openWarehouse(this.path, this.options).then((instance) => {
      // The previous instance is left to the garbage collector: queries still running on its
      // connections must finish on the file they started with.
      this.instance = instance
      this.identity = identity
      return instance
    }).finally(() => { this.opening = undefined })
    return this.opening
  }

  /**
   * Stops handing out connections of the current instance: the next connect() opens a fresh one.
   * For an instance whose interrupted query never returned, which would otherwise hold its threads
   * and stall every later export. The old instance is left to the garbage collector.
   */
  discard() {
    this.instance = undefined
    this.identity = undefined
  }

  close() {
    this.instance?.closeSync()
    this.instance = undefined
  }
}
