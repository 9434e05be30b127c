import { afterEach, describe, expect, it } from 'vitest'
import { Metrics, metricsAccess } from '#server/lib/metrics'
import { parsePrometheus, sampleSum, sampleValue } from '../helpers/prometheus'

describe('metrics', () => {
  const created: Metrics[] = []
  const metrics = (...args: ConstructorParameters<typeof Metrics>) => {
    const m = new Metrics(...args)
    created.push(m)
    return m
  }
  afterEach(() => {
    for (const m of created.splice(0)) m.close()
  })

  it('serves every documented family as well-formed Prometheus text, each on its own registry', async () => {
    const m = metrics({ jobCounts: async () => ({ pending: 3, completed: 7 }), duckdbMemoryBytes: async () => 1234 })
    const families = parsePrometheus(await m.scrape())
    expect([...families.keys()].sort()).toEqual([
      'outport_audit_write_failures_total',
      'outport_destination_bytes_total',
      'outport_destination_deliveries_total',
      'outport_destination_delivery_duration_seconds',
      'outport_duckdb_memory_bytes',
      'outport_event_loop_delay_seconds',
      'outport_export_bytes_total',
      'outport_export_duration_seconds',
      'outport_export_failures_total',
      'outport_export_orphans_deleted_total',
      'outport_export_orphans_found_total',
      'outport_export_rows_total',
      'outport_http_request_duration_seconds',
      'outport_job_pickup_seconds',
      'outport_jobs',
      'outport_lease_reclaims_total',
      'outport_notifications_total',
      'outport_process_memory_bytes',
      'outport_process_resident_memory_bytes'
    ])
    expect(families.get('outport_jobs')!.type).toBe('gauge')
    expect(families.get('outport_export_duration_seconds')!.type).toBe('histogram')
    expect(families.get('outport_export_rows_total')!.type).toBe('counter')
    // Every status is a series, zeros included.
    expect(Object.fromEntries(families.get('outport_jobs')!.samples.map(s => [s.labels.status, s.value])))
      .toEqual({ pending: 3, running: 0, completed: 7, failed: 0, cancelled: 0, expired: 0, deleted: 0 })
    expect(sampleValue(families, 'outport_duckdb_memory_bytes')).toBe(1234)
    // The heap in use fits in the heap reserved, which fits in the process.
    const heapUsed = sampleValue(families, 'outport_process_memory_bytes', { kind: 'heap_used' })!
    expect(heapUsed).toBeGreaterThan(0)
    expect(heapUsed).toBeLessThanOrEqual(sampleValue(families, 'outport_process_memory_bytes', { kind: 'heap_total' })!)
    expect(sampleValue(families, 'outport_process_memory_bytes', { kind: 'heap_total' })!).toBeLessThan(sampleValue(families, 'outport_process_resident_memory_bytes')!)
    expect(sampleValue(families, 'outport_event_loop_delay_seconds', { quantile: '0.99' })).toBeGreaterThanOrEqual(0)
    // A second instance has its own registry: nothing registered twice, nothing shared.
    const other = metrics()
    other.worker.completed({ format: 'csv', seconds: 1, rows: 5, bytes: 10 })
    expect(sampleValue(parsePrometheus(await m.scrape()), 'outport_export_rows_total', { format: 'csv' })).toBeUndefined()
  })

  it('records what the worker, the notifier and the request plugin report', async () => {
    const m = metrics()
    m.worker.claimed({ reclaimed: false, pickupSeconds: 0.02 })
    m.worker.claimed({ reclaimed: true, pickupSeconds: 99 })
    m.worker.completed({ format: 'csv', seconds: 2, rows: 100, bytes: 2048 })
    m.worker.completed({ format: 'csv', seconds: 3, rows: 50, bytes: 1024 })
    m.worker.completed({ format: 'parquet', seconds: 1, rows: 7, bytes: 512 })
    m.worker.failed({ format: 'csv', code: 'STORAGE_UNAVAILABLE', retry: true, seconds: 1 })
    m.worker.failed({ code: 'WORKER_LOST', retry: false })
    m.notification('telegram', 'sent')
    m.notification('telegram', 'sent')
    m.notification('telegram', 'failed')
    m.httpRequest({ route: '/api/analytics/exports/:id', method: 'GET', status: 200, seconds: 0.004 })
    m.auditWriteFailed('export.created')
    m.auditWriteFailed('export.created')
    const f = parsePrometheus(await m.scrape())

    expect(sampleValue(f, 'outport_job_pickup_seconds_count')).toBe(1)
    expect(sampleValue(f, 'outport_job_pickup_seconds_sum')).toBeCloseTo(0.02)
    expect(sampleValue(f, 'outport_job_pickup_seconds_bucket', { le: '0.025' })).toBe(1)
    expect(sampleValue(f, 'outport_lease_reclaims_total')).toBe(1)
    expect(sampleValue(f, 'outport_export_rows_total', { format: 'csv' })).toBe(150)
    expect(sampleValue(f, 'outport_export_bytes_total', { format: 'csv' })).toBe(3072)
    expect(sampleValue(f, 'outport_export_rows_total', { format: 'parquet' })).toBe(7)
    expect(sampleValue(f, 'outport_export_duration_seconds_count', { format: 'csv', outcome: 'completed' })).toBe(2)
    expect(sampleValue(f, 'outport_export_duration_seconds_sum', { format: 'csv', outcome: 'completed' })).toBe(5)
    expect(sampleValue(f, 'outport_export_duration_seconds_count', { format: 'csv', outcome: 'retried' })).toBe(1)
    expect(sampleValue(f, 'outport_export_failures_total', { code: 'STORAGE_UNAVAILABLE', retry: 'true' })).toBe(1)
    expect(sampleValue(f, 'outport_export_failures_total', { code: 'WORKER_LOST', retry: 'false' })).toBe(1)
    expect(sampleValue(f, 'outport_notifications_total', { channel: 'telegram', outcome: 'sent' })).toBe(2)
    expect(sampleValue(f, 'outport_notifications_total', { channel: 'telegram', outcome: 'failed' })).toBe(1)
    expect(sampleSum(f, 'outport_http_request_duration_seconds_count', { route: '/api/analytics/exports/:id', method: 'GET', status: '200' })).toBe(1)
    expect(sampleValue(f, 'outport_audit_write_failures_total', { action: 'export.created' })).toBe(2)
    // No queue source: no job series (never made-up zeros).

    expect(f.get('outport_jobs')!.samples).toEqual([])
  })

  it('reports event-loop delay beyond the sampling interval: near zero when idle, the stall when blocked', async () => {
    const m = metrics()
    await m.scrape()
    await new Promise(resolve => setTimeout(resolve, 300))
    const idle = parsePrometheus(await m.scrape())
    // Node's samples are whole 10 ms timer intervals; an idle loop must not read as 10 ms late.
    expect(sampleValue(idle, 'outport_event_loop_delay_seconds', { quantile: '0.5' })).toBeLessThan(0.005)
    await new Promise(resolve => setTimeout(resolve, 30))
    const until = performance.now() + 150
    while (performance.now() < until) { /* a handler that holds the loop for 150 ms */ }
    await new Promise(resolve => setTimeout(resolve, 30))
    const blocked = sampleValue(parsePrometheus(await m.scrape()), 'outport_event_loop_delay_seconds', { quantile: '1' })!
    expect(blocked).toBeGreaterThan(0.12)
    expect(blocked).toBeLessThan(1)
  })

  it('a failing source leaves the jobs gauge empty and logs why; the scrape still succeeds', async () => {
    const lines: string[] = []
    const m = metrics({
      jobCounts: async () => {
        throw new Error('database down')
      },
      duckdbMemoryBytes: async () => {
        throw new Error('no warehouse')
      },
      log: line => lines.push(line)
    })
    const f = parsePrometheus(await m.scrape())
    expect(f.get('outport_jobs')!.samples).toEqual([])
    expect(lines).toEqual(['metrics: could not count jobs: database down', 'metrics: could not read DuckDB memory: no warehouse'])
  })
})

describe('metrics access', () => {
  it('is disabled without a token, and allows exactly the bearer token', () => {
    expect(metricsAccess(undefined, 'Bearer anything')).toBe('disabled')
    expect(metricsAccess('', 'Bearer ')).toBe('disabled')
    expect(metricsAccess('s3cret-token', 'Bearer s3cret-token')).toBe('allowed')
    expect(metricsAccess('s3cret-token', 'bearer   s3cret-token ')).toBe('allowed')
    for (const header of [undefined, '', 'Bearer', 'Bearer s3cret', 'Bearer s3cret-token2', 'Basic s3cret-token', 's3cret-token']) {
      expect(metricsAccess('s3cret-token', header)).toBe('denied')
    }
  })
})
