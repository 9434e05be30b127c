import type { RateLimiterPostgres } from 'rate-limiter-flexible'
import type { Db } from '#server/lib/db/client'
import { postgresLimiter, takePoint } from '#server/lib/rate-limit'
import { RequestError } from '#server/lib/validation'
import { DESTINATION_CONFIG_SCHEMAS, type DestinationTestResultDTO, type DestinationType } from '#shared/types/destinations'
import { driverDeps, type DriverOptions } from './deliveries'
import { loadDriver } from './drivers'
import { TestSteps } from './drivers/driver'
import { externalIdOf } from './store'

/**
 * Tests a destination, saved or not: each step of reaching it and writing there, in order, in words.
 * Never throws for the destination's own problems (they are the failed step); nothing is saved here.
 */
export async function testDestination(
  db: Db,
  userId: string,
  destination: { type: DestinationType, config: unknown, credentials: unknown },
  opts: DriverOptions
): Promise<DestinationTestResultDTO> {
  const steps = new TestSteps()
  const config = DESTINATION_CONFIG_SCHEMAS[destination.type].parse(destination.config)
  const deps = driverDeps(opts, userId, destination.type === 's3' ? await externalIdOf(db, userId) : '')
  try {
    const driver = await loadDriver(destination.type)
    await driver.test(config as never, destination.credentials as never, deps, steps)
  } catch (error) {
    if (!TestSteps.stopped(error)) throw error
  }
  return { ok: steps.ok, steps: steps.steps, host_key_sha256: steps.hostKeySha256, tested_at: new Date().toISOString() }
}

/**
 * Each test connects out to a host the user chose: DESTINATION_TESTS_PER_MINUTE per user, counted in
 * PostgreSQL across processes (the table the webhook test pings use, under its own key prefix).
 */
export class DestinationTestLimit {
  private readonly limiter: RateLimiterPostgres

  constructor(db: Db, perMinute: number) {
    this.limiter = postgresLimiter(db, { tableName: 'webhook_send_rate_limits', keyPrefix: 'destination-test', points: perMinute, durationSeconds: 60 })
  }

  async take(userId: string): Promise<void> {
    await takePoint(this.limiter, userId, seconds => new RequestError(429, `Too many destination tests; try again in ${seconds} s`, { retryAfterSeconds: seconds }))
  }
}
