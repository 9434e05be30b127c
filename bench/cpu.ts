import { readdirSync, readFileSync } from 'node:fs'

const TICKS_PER_SECOND = 100

/**
 * The command name and CPU ticks (user + system) of /proc/<path>/stat — a process (`123`) or one
 * thread (`123/task/456`) — or null when it is gone.
 */
export function procTicks(path: string): [string, number] | null {
  try {
    const stat = readFileSync(`/proc/${path}/stat`, 'utf8')
    // The command name may hold spaces and parentheses: the fields start after its last ')'.
    const close = stat.lastIndexOf(')')
    const fields = stat.slice(close + 2).split(' ')
    // From field 3 (state): utime is field 14, stime 15.
    return [stat.slice(stat.indexOf('(') + 1, close), Number(fields[11]) + Number(fields[12])]
  } catch {
    return null
  }
}

/** CPU seconds of /proc/<path>/stat (0 when it is gone). */
export function cpuSeconds(path: string): number {
  return (procTicks(path)?.[1] ?? 0) / TICKS_PER_SECOND
}

/** Every PostgreSQL process on the machine (the server and its backends). */
export function postgresPids(): string[] {
  return readdirSync('/proc').filter(name => /^\d+$/.test(name)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres'
    } catch {
      return false
    }
  })
}

/**
 * CPU used by groups of processes or threads between now and `stop()`, in cores (CPU seconds per
 * second of wall time). Each group is a list of /proc paths, read again at the end (processes that
 * start in between count from zero).
 */
export function meterCpu(groups: Record<string, () => string[]>): { stop: () => Record<string, number> } {
  const start = new Map(Object.entries(groups).map(([name, paths]) => [name, new Map(paths().map(p => [p, cpuSeconds(p)]))]))
  const t0 = performance.now()
  return {
    stop: () => {
      const seconds = (performance.now() - t0) / 1000
      return Object.fromEntries(Object.entries(groups).map(([name, paths]) => {
        const before = start.get(name)!
        const used = paths().reduce((total, path) => total + cpuSeconds(path) - (before.get(path) ?? 0), 0)
        return [name, used / seconds]
      }))
    }
  }
}
