import { describe, expect, it } from 'vitest'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { client } from '../helpers/http'
import { parsePrometheus, sampleSum, sampleValue, type Family } from '../helpers/prometheus'
import { useServerSuite } from '../helpers/suite'

const TOKEN = 'metrics-test-token-0123456789'
const MONTHLY = DATASETS.find(d => d.name === 'fct_monthly_trends')!.id
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i

/** Every line of a server's stdout, parsed; fails on the first line that is not one JSON object. */
function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter(Boolean).map((line) => {
    let entry: unknown
    try {
      entry = JSON.parse(line)
    } catch {
      throw new Error(`not a JSON line: ${line}`)
    }
    expect(typeof entry === 'object' && entry !== null && !Array.isArray(entry), line).toBe(true)
    return entry as Record<string, unknown>
  })
}

/**
 * GET /metrics and the JSON logs on a server of its own (METRICS_TOKEN, LOG_FORMAT=json): the
 * token rule, the exposition format, counters that move by what an export did, request ids.
 */
describe('metrics and logs', () => {
  const suite = useServerSuite({
    name: 'metrics',
    users: 1,
    transactions: 2000,
    env: { METRICS_TOKEN: TOKEN, LOG_FORMAT: 'json' }
  })

  const scrape = async (url = suite.url) => {
    const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(200)
    return parsePrometheus(await res.text())
  }

  it('401 without the token or with a wrong one; with it, well-formed Prometheus text with every family', async () => {
    const refused: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token' }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }]
    for (const headers of refused) {
      const res = await fetch(`${suite.url}/metrics`, { headers })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="metrics"')
      expect(await res.text()).not.toContain('outport_')
    }
    const res = await fetch(`${suite.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    const families = parsePrometheus(text)
    for (const name of [
      'outport_jobs', 'outport_export_duration_seconds', 'outport_export_rows_total', 'outport_export_bytes_total',
      'outport_export_failures_total', 'outport_job_pickup_seconds', 'outport_lease_reclaims_total', 'outport_notifications_total',
      'outport_http_request_duration_seconds', 'outport_event_loop_delay_seconds', 'outport_duckdb_memory_bytes',
      'outport_audit_write_failures_total', 'outport_export_orphans_found_total', 'outport_export_orphans_deleted_total'
    ]) {
      expect(families.get(name), name).toBeDefined()
      expect(text).toContain(`# TYPE ${name} `)
    }
    expect(sampleValue(families, 'outport_event_loop_delay_seconds', { quantile: '0.99' })).toBeGreaterThanOrEqual(0)
    // Start-up's readiness check opened the warehouse.
    expect(sampleValue(families, 'outport_duckdb_memory_bytes')).toBeGreaterThanOrEqual(0)
  })

  it('an export moves the queue gauge and the export counters by what it did', async () => {
    const { createExport, waitForExport, api } = client(suite.url)
    const [user] = suite.demo.users
    const before = await scrape()
    const completedBefore = sampleValue(before, 'outport_jobs', { status: 'completed' }) ?? 0
    const rowsBefore = sampleValue(before, 'outport_export_rows_total', { format: 'csv' }) ?? 0
    const bytesBefore = sampleValue(before, 'outport_export_bytes_total', { format: 'csv' }) ?? 0
    const pickupsBefore = sampleValue(before, 'outport_job_pickup_seconds_count') ?? 0

    const jobId = await createExport(user!.token, { dataset_id: MONTHLY, format: 'csv' })
    const job = await waitForExport(user!.token, jobId, 60_000)
    expect(job.status).toBe('completed')
    expect(job.row_count).toBeGreaterThan(0)

    // The counters move right after the job's row is written: poll briefly rather than race it.
    let after: Map<string, Family> = before
    await expect.poll(async () => {
      after = await scrape()
      return sampleValue(after, 'outport_export_rows_total', { format: 'csv' })
    }, { timeout: 5000 }).toBe(rowsBefore + job.row_count!)
    expect(sampleValue(after, 'outport_jobs', { status: 'completed' })).toBe(completedBefore + 1)
    expect(sampleValue(after, 'outport_jobs', { status: 'pending' })).toBe(0)
    expect(sampleValue(after, 'outport_jobs', { status: 'running' })).toBe(0)
    expect(sampleValue(after, 'outport_export_bytes_total', { format: 'csv' })).toBe(bytesBefore + job.file_size_bytes!)
    expect(sampleValue(after, 'outport_job_pickup_seconds_count')).toBe(pickupsBefore + 1)
    expect(sampleValue(after, 'outport_export_duration_seconds_count', { format: 'csv', outcome: 'completed' })).toBeGreaterThanOrEqual(1)

    // Requests are labelled by route pattern: the job id never becomes a label.
    expect((await api(`/api/analytics/exports/${jobId}`, { token: user!.token })).status).toBe(200)
    const http = (await scrape()).get('outport_http_request_duration_seconds')!
    const routes = new Set(http.samples.map(s => s.labels.route))
    expect(routes).toContain('/api/analytics/exports/:id')
    expect(routes).toContain('/api/analytics/exports')
    expect([...routes].filter(r => UUID.test(r!))).toEqual([])
    expect(sampleSum(await scrape(), 'outport_http_request_duration_seconds_count', { route: '/api/analytics/exports/:id', method: 'GET', status: '200' })).toBeGreaterThanOrEqual(1)
  })

  it('echoes a valid X-Request-Id, makes one otherwise, and logs one JSON line per request with it', async () => {
    const [user] = suite.demo.users
    const given = await fetch(`${suite.url}/api/accounts`, { headers: { 'x-request-id': 'trace-abc.123', 'authorization': `Bearer ${user!.token}` } })
    expect(given.status).toBe(200)
    expect(given.headers.get('x-request-id')).toBe('trace-abc.123')
    const made = await fetch(`${suite.url}/api/health/live`)
    expect(made.headers.get('x-request-id')).toMatch(UUID)
    const forged = await fetch(`${suite.url}/api/health/live`, { headers: { 'x-request-id': 'x'.repeat(200) } })
    expect(forged.headers.get('x-request-id')).toMatch(UUID)
    // Errors carry it too.
    const missing = await fetch(`${suite.url}/api/analytics/exports/00000000-0000-4000-8000-000000000000?token=secret-in-query`, {
      headers: { 'x-request-id': 'trace-404', 'authorization': `Bearer ${user!.token}` }
    })
    expect(missing.status).toBe(404)
    expect(missing.headers.get('x-request-id')).toBe('trace-404')

    await expect.poll(() => suite.server.stdout()).toContain('"request_id":"trace-404"')
    const lines = jsonLines(suite.server.stdout())
    for (const line of lines) expect(line).toMatchObject({ level: expect.any(String), time: expect.any(String), msg: expect.any(String) })
    // Start-up printed its "Listening on" as an entry too, and nothing at error level (Node's own
    // warnings, e.g. the AWS SDK's about old Node versions, are warnings).
    expect(lines.some(l => String(l.msg).startsWith('Listening on'))).toBe(true)
    expect(lines.filter(l => l.level === 'error')).toEqual([])
    const requests = lines.filter(l => l.msg === 'request')
    expect(requests.length).toBeGreaterThan(0)
    for (const line of requests) expect(line.request_id).toEqual(expect.any(String))
    expect(requests.find(l => l.request_id === 'trace-abc.123')).toMatchObject({
      level: 'info', method: 'GET', path: '/api/accounts', route: '/api/accounts', status: 200, user_id: user!.user_id, duration_ms: expect.any(Number)
    })
    expect(requests.find(l => l.request_id === 'trace-404')).toMatchObject({
      path: '/api/analytics/exports/00000000-0000-4000-8000-000000000000', route: '/api/analytics/exports/:id', status: 404
    })
    // The export's completion is logged with its job and user.
    expect(lines.find(l => typeof l.msg === 'string' && l.msg.includes('completed:'))).toMatchObject({ job_id: expect.stringMatching(UUID), user_id: user!.user_id })
    // Secrets stay out: no query strings, no tokens.
    const stdout = suite.server.stdout()
    expect(stdout).not.toContain('secret-in-query')
    expect(stdout).not.toContain(user!.token)
    expect(stdout).not.toContain(TOKEN)
  })

  it('a worker-only process serves /metrics; a server without METRICS_TOKEN answers 404 and logs JSON by default', async () => {
    const worker = await suite.startServer({ OUTPORT_ROLE: 'worker', METRICS_TOKEN: TOKEN })
    try {
      const families = await scrape(worker.url)
      // One series per status (shared/types/jobs.ts), deleted included.
      expect(families.get('outport_jobs')!.samples.length).toBe(7)
      expect((await fetch(`${worker.url}/api/accounts`)).status).toBe(404)
    } finally {
      await worker.stop()
    }
    // NODE_ENV=production (as the suite starts servers) and no LOG_FORMAT.
    const plain = await suite.startServer({})
    try {
      for (const headers of [{}, { authorization: `Bearer ${TOKEN}` }] as Record<string, string>[]) {
        expect((await fetch(`${plain.url}/metrics`, { headers })).status).toBe(404)
      }
      await fetch(`${plain.url}/api/accounts`)
      await expect.poll(() => plain.stdout()).toContain('"path":"/api/accounts"')
      expect(jsonLines(plain.stdout()).some(l => l.msg === 'request' && l.status === 401)).toBe(true)
    } finally {
      await plain.stop()
    }
  })
})
