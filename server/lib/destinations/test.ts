import type { Db } from '#server/lib/db/client'
import { DESTINATION_CONFIG_SCHEMAS, type DestinationTestResultDTO, type DestinationType } from '#shared/types/destinations'
import { driverDeps } from './deliveries'
import { DRIVERS } from './drivers'
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
  opts: { allowHosts: readonly string[], timeoutMs?: number }
): Promise<DestinationTestResultDTO> {
  const steps = new TestSteps()
  const config = DESTINATION_CONFIG_SCHEMAS[destination.type].parse(destination.config)
  const deps = driverDeps(opts, userId, destination.type === 's3' ? await externalIdOf(db, userId) : '')
  try {
    await DRIVERS[destination.type].test(config as never, destination.credentials as never, deps, steps)
  } catch (error) {
    if (!TestSteps.stopped(error)) throw error
  }
  return { ok: steps.ok, steps: steps.steps, host_key_sha256: steps.hostKeySha256, tested_at: new Date().toISOString() }
}
