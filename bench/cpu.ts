import { readdirSync, readFileSync } from 'node:fs'

const TICKS_PER_SECOND = 100

/** CPU seconds (user + system) of /proc/<path>/stat: a process (`123`) or one thread (`123/task/456`). */
export function cpuSeconds(path: string): number {
  try {
    // Fields after the command name (which may hold spaces), from field 3: utime is 14, stime 15.
    const fields = readFileSync(`/proc/${path}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
  } catch {
    return 0
  }
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
