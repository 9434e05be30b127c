/**
 * Readiness: are the database, the warehouse and the storage reachable? `/api/health/ready` (and
 * `/api/health`) are public, so a flood of them must not become a flood of PostgreSQL queries,
 * DuckDB connections and S3 HeadBucket requests. Each probe's result is kept for `ttlMs`, and
 * callers that arrive while a probe runs share it: however many requests come in, each dependency
 * is asked at most once per `ttlMs` (plus the time a probe takes). Liveness needs none of this:
 * `/api/health/live` answers without touching a dependency.
 */

export type Check = { ok: true } | { ok: false, error: string }

export interface ReadinessReport<Name extends string> {
  ok: boolean
  checks: Record<Name, Check>
}

export interface ReadinessOptions {
  /** How long a probe's result is reused (from when it finished). */
  ttlMs?: number
  /** A probe that has not answered by then counts as failed (and is cached as such). */
  timeoutMs?: number
  /** Milliseconds; injectable for tests. */
  now?: () => number
  /** Why a probe failed: the reason goes to the log, never to the anonymous caller. */
  log?: (line: string) => void
}

export const READINESS_TTL_MS = 5000

interface Entry { check: Check, at: number }

export class Readiness<Name extends string> {
  private readonly cached = new Map<Name, Entry>()
  private readonly running = new Map<Name, Promise<Check>>()
  private readonly ttlMs: number
  private readonly timeoutMs: number
  private readonly now: () => number
  private readonly log: (line: string) => void

  constructor(private readonly probes: Record<Name, () => Promise<unknown>>, options: ReadinessOptions = {}) {
    this.ttlMs = options.ttlMs ?? READINESS_TTL_MS
    this.timeoutMs = options.timeoutMs ?? 5000
    this.now = options.now ?? Date.now
    this.log = options.log ?? (() => {})
  }

  async check(): Promise<ReadinessReport<Name>> {
    const names = Object.keys(this.probes) as Name[]
    const results = await Promise.all(names.map(name => this.probe(name)))
    const checks = Object.fromEntries(names.map((name, i) => [name, results[i]!])) as Record<Name, Check>
    return { ok: results.every(r => r.ok), checks }
  }

  private probe(name: Name): Promise<Check> {
    const entry = this.cached.get(name)
    if (entry && this.now() - entry.at < this.ttlMs) return Promise.resolve(entry.check)
    let running = this.running.get(name)
    if (!running) {
      running = this.run(name).then((check) => {
        this.cached.set(name, { check, at: this.now() })
        this.running.delete(name)
        return check
      })
      this.running.set(name, running)
    }
    return running
  }

  private async run(name: Name): Promise<Check> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${this.timeoutMs} ms`)), this.timeoutMs)
      timer.unref?.()
    })
    try {
      await Promise.race([Promise.resolve().then(this.probes[name]), timeout])
      return { ok: true }
    } catch (error) {
      this.log(`health: ${name} unavailable: ${error instanceof Error ? error.message : String(error)}`)
      return { ok: false, error: `${name} unavailable` }
    } finally {
      clearTimeout(timer)
    }
  }
}
