import { countByStatus } from '../lib/exports/jobs/stats'
import { logFn } from '../lib/log'
import { Metrics } from '../lib/metrics'

let metrics: Metrics | undefined

/**
 * The process's metrics (server/lib/metrics.ts), created on first use: the request plugin records
 * into it before the context exists. The scrape-time gauges read through the context.
 */
export function useMetrics(): Metrics {
  metrics ??= new Metrics({
    jobCounts: async () => countByStatus((await useAppContext()).db),
    duckdbMemoryBytes: async () => (await useAppContext()).warehouse.memoryBytes(),
    log: logFn(useLog())
  })
  return metrics
}
