import { DestinationDeliverer } from '../lib/destinations/deliveries'
import { destinationsKey } from '../lib/destinations/store'
import { DestinationTestLimit } from '../lib/destinations/test'
import { logFn } from '../lib/log'

let deliverer: DestinationDeliverer | undefined
let testLimit: DestinationTestLimit | undefined

/** The per-user limit on destination tests (DESTINATION_TESTS_PER_MINUTE). */
export async function useDestinationTestLimit(): Promise<DestinationTestLimit> {
  const { db, config } = await useAppContext()
  testLimit ??= new DestinationTestLimit(db, config.DESTINATION_TESTS_PER_MINUTE)
  return testLimit
}

/**
 * This process's delivery loop to destinations (roles all and worker), once started; undefined on
 * the web role, or when no sealing key is configured (no destination can exist then).
 */
export function useDestinationDeliverer(): DestinationDeliverer | undefined {
  return deliverer
}

export async function startDestinations(): Promise<void> {
  const { config, db, storage } = await useAppContext()
  if (config.OUTPORT_ROLE === 'web' || deliverer || !(config.DESTINATIONS_KEY ?? config.NUXT_SESSION_PASSWORD)) return
  deliverer = new DestinationDeliverer({
    db,
    storage,
    key: destinationsKey(config),
    allowHosts: config.WEBHOOK_ALLOW_HOSTS,
    stsEndpoint: config.DESTINATIONS_STS_ENDPOINT,
    maxAttempts: config.DESTINATION_MAX_ATTEMPTS,
    retryBaseMs: config.DESTINATION_RETRY_BASE_MS,
    log: logFn(useLog().child({ component: 'destinations' })),
    metrics: useMetrics(),
    // Announced once every delivery settled, so the message says where the file went.
    onJobSettled: async jobId => (await useNotifications()).jobFinished(jobId)
  })
  deliverer.start()
}

export async function stopDestinations(): Promise<void> {
  await deliverer?.stop()
}
