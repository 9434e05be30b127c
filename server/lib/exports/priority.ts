import { readdirSync } from 'node:fs'
import { setPriority } from 'node:os'

/**
 * Gives every thread of this process but `keep` the niceness `nice`: DuckDB's threads, the libuv
 * pool that runs its queries, the upload thread, V8's helpers. The thread that serves HTTP stays at
 * its priority, so an export's CPU work takes what it leaves instead of delaying it. Linux
 * keeps niceness per thread; elsewhere this does nothing. Threads created later (a new DuckDB
 * instance, a grown pool) are caught by the next call. Returns how many threads were changed.
 */
export function lowerOtherThreads(keep: ReadonlySet<number>, nice: number): number {
  let tids: string[]
  try {
    tids = readdirSync('/proc/self/task')
  } catch {
    return 0
  }
  let changed = 0
  for (const tid of tids.map(Number)) {
    if (keep.has(tid)) continue
    try {
      setPriority(tid, nice)
      changed++
    } catch {
      // The thread ended meanwhile.
    }
  }
  return changed
}
