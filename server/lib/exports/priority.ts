import { readdirSync, readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'

/** This thread's id in the kernel (Linux); undefined where /proc/thread-self does not exist. */
export function currentThreadId(): number | undefined {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').at(-1))
  } catch {
    return undefined
  }
}

/**
 * Gives every thread of this process but `keep` the niceness `nice`: DuckDB's threads, the libuv
 * pool that runs its queries, V8's helpers. The threads that serve HTTP and send the upload stay
 * at their priority, so a CPU-bound COPY takes what they leave instead of delaying them. Linux
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
