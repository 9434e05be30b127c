import { join } from 'node:path'
import type { Config } from './config'
import { createDb, type Db } from './db/client'
import { createStorage, type Storage } from './storage/s3'
import { WarehouseReader } from './warehouse/reader'

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
    spillRoot: join(config.EXPORT_WORK_DIR, 'duckdb-spill')
  })
  return {
    config,
    db,
    storage: createStorage(config),
    warehouse,
    close: async () => {
      await warehouse.close()
      await db.$disconnect()
    }
  }
}
