import { randomUUID } from 'node:crypto'
import { mkdir, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api'
import { openWarehouse, type OpenWarehouseOptions } from './duckdb'

export interface WarehouseReaderOptions extends Omit<OpenWarehouseOptions, 'tempDirectory'> {
  /**
   * Where DuckDB may spill. Each instance gets a folder of its own below it (`<pid>-<random>`),
   * removed when it closes: DuckDB names spill files so that two instances sharing a folder
   * collide, and an instance that closes deletes every `duckdb_temp_*` file in its folder.
   */
  spillRoot?: string
}

const SPILL_DIR = /^(\d+)-[0-9a-f]{8}$/

/** What DuckDB's memory limit is lowered to while its cache is released (see releaseCache). */
const CACHE_RELEASE_LIMIT = '8MB'

/** A memory limit as DuckDB writes it (`192MB`, `183.1 MiB`): checked before it goes into SET. */
function checkedMemoryLimit(limit: string): string {
  if (!/^\d+(\.\d+)?\s*[KMGT]i?B$/i.test(limit)) throw new Error(`Unexpected DuckDB memory limit: ${limit}`)
  return limit
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
  /** Spill folders of this reader's instances (current and discarded), removed on close(). */
  private readonly spillDirs = new Set<string>()
  private cleaned?: Promise<unknown>
  /** DuckDB threads set by setThreads(): applied to the open instance and to any opened later. */
  private threads?: number

  constructor(readonly path: string, private readonly options: WarehouseReaderOptions = {}) {}

  async connect(): Promise<DuckDBConnection> {
    const instance = await this.current()
    return instance.connect()
  }

  private async current(): Promise<DuckDBInstance> {
    const info = await stat(this.path).catch(() => null)
    if (!info) throw new WarehouseMissingError(`No warehouse at ${this.path}; build one with: npm run cli -- demo`)
    const identity = `${info.dev}:${info.ino}:${info.mtimeMs}`
    if (this.instance && this.identity === identity) return this.instance
    this.opening ??= this.open().then((instance) => {
      // The previous instance is left to the garbage collector: queries still running on its
      // connections must finish on the file they started with.
      this.instance = instance
      this.identity = identity
      return instance
    }).finally(() => { this.opening = undefined })
    return this.opening
  }

  private async open(): Promise<DuckDBInstance> {
    const { spillRoot, ...configured } = this.options
    const options = { ...configured, ...(this.threads !== undefined && { threads: this.threads }) }
    if (!spillRoot) return openWarehouse(this.path, options)
    await (this.cleaned ??= removeStaleSpillDirs(spillRoot, this.spillDirs))
    const tempDirectory = join(spillRoot, `${process.pid}-${randomUUID().slice(0, 8)}`)
    await mkdir(tempDirectory, { recursive: true })
    this.spillDirs.add(tempDirectory)
    return openWarehouse(this.path, { ...options, tempDirectory })
  }

  /**
   * Bytes DuckDB holds in memory (buffer pool, query state), for the `outport_duckdb_memory_bytes`
   * gauge; undefined while no instance is open: a scrape must not open the warehouse.
   */
  async memoryBytes(): Promise<number | undefined> {
    const instance = this.instance
    if (!instance) return undefined
    const connection = await instance.connect()
    try {
      const reader = await connection.runAndReadAll('SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT AS bytes FROM duckdb_memory()')
      return Number(reader.getRows()[0]?.[0] ?? 0)
    } finally {
      connection.closeSync()
    }
  }

  /**
   * Sets how many threads DuckDB runs queries on, now and in instances opened later. DuckDB's
   * threads are the instance's, shared by every query on it: the export worker lowers them while
   * several exports run, so that each query is not split over more threads than there are cores.
   */
  async setThreads(threads: number): Promise<void> {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`)
    this.threads = threads
    const instance = this.instance
    if (!instance) return
    const connection = await instance.connect()
    try {
      await connection.run(`SET threads = ${threads}`)
    } finally {
      connection.closeSync()
    }
  }

  /**
   * Empties DuckDB's cache: after a query ends, its buffer pool keeps the warehouse blocks it read,
   * up to `memory_limit` (about 165 MB after a 5M-row export), and the next export's memory comes on
   * top of it. Lowering the limit makes DuckDB evict every block it can; the limit is then set back.
   * For when no export runs: a query running meanwhile keeps the blocks it holds, and one that
   * needs memory in that instant may find less of it.
   */
  async releaseCache(): Promise<void> {
    const instance = this.instance
    if (!instance) return
    const connection = await instance.connect()
    try {
      // Checked before the limit is lowered: one that could not be set back must not leave it low.
      const limit = checkedMemoryLimit(this.options.memoryLimit ?? String((await connection.runAndReadAll('SELECT current_setting(\'memory_limit\')')).getRows()[0]?.[0]))
      try {
        await connection.run(`SET memory_limit = '${CACHE_RELEASE_LIMIT}'`)
      } finally {
        await connection.run(`SET memory_limit = '${limit}'`)
      }
    } finally {
      connection.closeSync()
    }
  }

  /** DuckDB's current thread count, or undefined while no instance is open. */
  async currentThreads(): Promise<number | undefined> {
    const instance = this.instance
    if (!instance) return undefined
    const connection = await instance.connect()
    try {
      const reader = await connection.runAndReadAll('SELECT current_setting(\'threads\')::INTEGER')
      return Number(reader.getRows()[0]?.[0])
    } finally {
      connection.closeSync()
    }
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

  async close() {
    this.instance?.closeSync()
    this.instance = undefined
    await Promise.all([...this.spillDirs].map(dir => rm(dir, { recursive: true, force: true })))
    this.spillDirs.clear()
  }
}

/**
 * Removes spill folders left by processes that are gone (killed before they could close their
 * instances). A folder named with this process's own pid that this reader did not make is from an
 * earlier process that had the same pid (containers restart with low pids).
 */
export async function removeStaleSpillDirs(spillRoot: string, own: ReadonlySet<string> = new Set()): Promise<string[]> {
  const removed: string[] = []
  for (const entry of await readdir(spillRoot, { withFileTypes: true }).catch(() => [])) {
    const pid = SPILL_DIR.exec(entry.name)?.[1]
    const path = join(spillRoot, entry.name)
    if (!entry.isDirectory() || !pid || own.has(path)) continue
    if (Number(pid) === process.pid || !isAlive(Number(pid))) {
      await rm(path, { recursive: true, force: true })
      removed.push(entry.name)
    }
  }
  return removed
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, but is someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
