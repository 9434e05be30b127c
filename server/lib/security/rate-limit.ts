/**
 * Fixed-window counters in this process's memory: enough to slow password guessing to a crawl
 * without another service. With several web processes each keeps its own count, so the effective
 * limit is multiplied by their number.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { count: number, resetAt: number }>()

  constructor(readonly limit: number, readonly windowMs: number, private readonly clock: () => number = Date.now) {}

  /** Seconds until `key` may try again, or 0 when it is under the limit. Does not count. */
  retryAfter(key: string): number {
    const entry = this.windows.get(key)
    const now = this.clock()
    if (!entry || entry.resetAt <= now || entry.count < this.limit) return 0
    return Math.ceil((entry.resetAt - now) / 1000)
  }

  hit(key: string): void {
    const now = this.clock()
    let entry = this.windows.get(key)
    if (!entry || entry.resetAt <= now) {
      if (this.windows.size > 100_000) this.prune(now)
      entry = { count: 0, resetAt: now + this.windowMs }
      this.windows.set(key, entry)
    }
    entry.count++
  }

  reset(key: string): void {
    this.windows.delete(key)
  }

  private prune(now: number) {
    for (const [key, entry] of this.windows) if (entry.resetAt <= now) this.windows.delete(key)
  }
}
