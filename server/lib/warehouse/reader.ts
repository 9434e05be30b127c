import { stat } from 'node:fs/promises'
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api'
import { openWarehouse, type OpenWarehouseOptions } from './duckdb'

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
