import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible'
import type { Db } from './db/client'
import type { RequestError } from './validation'

/**
 * Counters shared by every process through PostgreSQL (rate-limiter-flexible's store). Each point
 * is taken with one atomic upsert, so concurrent requests cannot all pass a check that has not yet
 * counted them. The table is created by a migration, never by the library at run time.
 */
export function postgresLimiter(db: Db, opts: { tableName: string, keyPrefix: string, points: number, durationSeconds: number }): RateLimiterPostgres {
  return new RateLimiterPostgres({
    storeClient: db.pool,
    storeType: 'pool',
    tableCreated: true,
    tableName: opts.tableName,
    keyPrefix: opts.keyPrefix,
    points: opts.points,
    duration: opts.durationSeconds
  })
}

/** Takes one point for `key` (returning the count so far), or throws `refusal(seconds until the window ends)`. */
export async function takePoint(limiter: RateLimiterPostgres, key: string, refusal: (retryAfterSeconds: number) => RequestError): Promise<RateLimiterRes> {
  try {
    return await limiter.consume(key)
  } catch (error) {
    if (error instanceof RateLimiterRes) throw refusal(Math.max(1, Math.ceil(error.msBeforeNext / 1000)))
    throw error
  }
}
