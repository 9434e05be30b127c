import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiToken } from '#server/lib/auth/tokens'
import { createDb } from '#server/lib/db/client'
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '#server/lib/local/s3rver'
import { DATASETS } from '#server/lib/warehouse/datasets'
import type { DestinationDTO, DestinationTestResultDTO } from '#shared/types/destinations'
import type { ExportJobDTO } from '#shared/types/exports'
import type { ScheduleDTO } from '#shared/types/schedules'
import { client } from '../helpers/http'
import { freePort } from '../helpers/server'
import { startSshd, type SshdHandle } from '../helpers/sshd'
import { useServerSuite } from '../helpers/suite'

/**
 * Destinations over HTTP against the built server: a second s3rver as the user's bucket and
 * OpenSSH's sshd as a vendor's server. Exports and a schedule deliver there; secrets never come
 * back in an answer or a log line. (Each driver's failure cases are in tests/integration/destinations.)
 */
describe('destinations over HTTP', () => {
  let theirs: S3rverHandle
  let sshd: SshdHandle
  const suite = useServerSuite({
    name: 'destinations',
    env: { WEBHOOK_ALLOW_HOSTS: '127.0.0.1', DESTINATIONS_MAX_PER_USER: '3', DESTINATION_RETRY_BASE_MS: '200', DESTINATION_TESTS_PER_MINUTE: '3', METRICS_TOKEN: 'destinations-metrics' }
  })
  const answers: string[] = []
  let http: ReturnType<typeof client>
  let alice: { user_id: string, token: string }
  let bob: { user_id: string, token: string }
  let readOnly: string

  const send = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await http.api(path, { method, token, ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) })
    const text = await res.text()
    answers.push(text)
    return { status: res.status, json: () => JSON.parse(text) }
  }

  const s3Body = (name = 'Lake') => ({
    name, type: 's3',
    config: { bucket: 'their-bucket', prefix: '{schedule}/{dataset}/{yyyy}-{mm}-{dd}/{filename}', region: 'us-east-1', endpoint: theirs.endpoint, force_path_style: true, sse: 'AES256' },
    credentials: { access_key_id: S3RVER_CREDENTIALS.accessKeyId, secret_access_key: 'their-secret-key-do-not-show' }
  })
  const sftpBody = () => ({
    name: 'Vendor', type: 'sftp',
    config: { host: '127.0.0.1', port: sshd.port, username: sshd.username, path: `${sshd.root}/{job_id}-{filename}` },
    credentials: { private_key: sshd.privateKey }
  })

  async function delivered(token: string, jobId: string): Promise<ExportJobDTO> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const job = await http.waitForExport(token, jobId)
      if (job.deliveries.length && job.deliveries.every(d => d.status === 'delivered' || d.status === 'failed')) return job
      if (Date.now() > deadline) throw new Error(`deliveries of ${jobId}: ${JSON.stringify(job.deliveries)}`)
      await sleep(100)
    }
  }

  async function theirObject(location: string): Promise<Buffer> {
    const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(location)!
    const s3 = new S3Client({ region: 'us-east-1', endpoint: theirs.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS })
    return Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray())
  }

  async function download(job: ExportJobDTO): Promise<Buffer> {
    return Buffer.from(await (await fetch(job.download_url!)).arrayBuffer())
  }

  beforeAll(async () => {
    http = client(suite.url)
    alice = suite.demo.users[0]!
    bob = suite.demo.users[1]!
    ;[theirs, sshd] = await Promise.all([
      startS3rver({ directory: `${suite.environment.dir}/theirs`, port: await freePort(), buckets: ['their-bucket'] }),
      startSshd()
    ])
    const db = createDb(suite.environment.database.url, { max: 1 })
    try {
      readOnly = (await createApiToken(db, alice.user_id, 'reader', { scopes: ['exports:read'] })).token
    } finally {
      await db.$disconnect()
    }
  })
  afterAll(async () => {
    await Promise.all([theirs?.stop(), sshd?.stop()])
  })

  it('creates, reads, tests and changes a destination; refuses bad templates, extra ones, other users and read-only tokens', async () => {
    const unknown = await send('POST', '/api/destinations', alice.token, { ...s3Body(), config: { ...s3Body().config, prefix: '{dataset}/{month}/{filename}' } })
    expect(unknown.status).toBe(400)
    expect(unknown.json().data.errors).toEqual([{ field: 'config.prefix', message: expect.stringContaining('Unknown placeholder: {month}') }])
    expect((await send('POST', '/api/destinations', readOnly, s3Body())).status).toBe(403)

    const created = await send('POST', '/api/destinations', alice.token, s3Body())
    expect(created.status).toBe(201)
    const destination = created.json() as DestinationDTO
    expect(destination).toMatchObject({ type: 's3', credentials: { kind: 'access_key', hint: '…RVER' }, last_test: null })
    expect((await send('GET', '/api/destinations', readOnly)).json().destinations.map((d: DestinationDTO) => d.id)).toEqual([destination.id])

    const tested = await send('POST', `/api/destinations/${destination.id}/test`, alice.token)
    expect(tested.status).toBe(200)
    expect((tested.json() as DestinationTestResultDTO).steps.map(s => [s.step, s.ok])).toEqual([['credentials', true], ['bucket', true], ['write', true], ['delete', true]])
    expect((await send('GET', `/api/destinations/${destination.id}`, alice.token)).json().last_test.ok).toBe(true)
    expect((await send('POST', `/api/destinations/${destination.id}/test`, readOnly)).status).toBe(403)

    const patched = await send('PATCH', `/api/destinations/${destination.id}`, alice.token, { config: { prefix: '{dataset}/{format}/{job_id}' } })
    expect(patched.json()).toMatchObject({ config: { prefix: '{dataset}/{format}/{job_id}', bucket: 'their-bucket' }, last_test: null })
    expect((await send('PATCH', `/api/destinations/${destination.id}`, alice.token, { config: { host: 'x' } })).status).toBe(400)

    for (const [method, path] of [['GET', ''], ['PATCH', ''], ['DELETE', ''], ['POST', '/test']] as const) {
      expect((await send(method, `/api/destinations/${destination.id}${path}`, bob.token, method === 'PATCH' ? { name: 'mine' } : undefined)).status).toBe(404)
    }
    const foreign = await send('POST', '/api/analytics/exports', bob.token, { dataset_id: DATASETS[0]!.id, format: 'csv', destination_ids: [destination.id] })
    expect(foreign.status).toBe(404)
    expect(foreign.json().data.errors).toEqual([{ field: 'destination_ids', message: `Not found: ${destination.id}` }])

    const external = (await send('GET', '/api/destinations/external-id', alice.token)).json()
    expect(external.external_id).toMatch(/^outport-[0-9a-f]{32}$/)
    expect(JSON.parse(external.trust_policy).Statement[0].Condition.StringEquals['sts:ExternalId']).toBe(external.external_id)
    expect((await send('GET', '/api/destinations/external-id', bob.token)).json().external_id).not.toBe(external.external_id)
  })

  it('reports an unpinned SFTP server\'s fingerprint without saving it, then delivers an export to S3 and SFTP, byte for byte', async () => {
    const probe = await send('POST', '/api/destinations/test', alice.token, sftpBody())
    expect(probe.json()).toMatchObject({ ok: false, host_key_sha256: sshd.hostKeySha256 })
    expect((await send('GET', '/api/destinations', alice.token)).json().destinations).toHaveLength(1)
    const sftp = (await send('POST', '/api/destinations', alice.token, { ...sftpBody(), config: { ...sftpBody().config, host_key_sha256: probe.json().host_key_sha256 } })).json() as DestinationDTO
    const [s3] = (await send('GET', '/api/destinations', alice.token)).json().destinations as DestinationDTO[]

    const started = await send('POST', '/api/analytics/exports', alice.token, { dataset_id: DATASETS[0]!.id, format: 'csv', destination_ids: [s3!.id, sftp.id] })
    expect(started.status).toBe(202)
    const job = await delivered(alice.token, started.json().job_id)
    expect(job.status).toBe('completed')
    expect(job.deliveries).toEqual([
      expect.objectContaining({ destination_id: s3!.id, type: 's3', status: 'delivered', attempts: 1, location: `s3://their-bucket/${DATASETS[0]!.name}/csv/${job.job_id}/${DATASETS[0]!.name}_all_dates.csv`, error: null }),
      expect.objectContaining({ destination_id: sftp.id, type: 'sftp', status: 'delivered', location: `sftp://127.0.0.1:${sshd.port}${sshd.root}/${job.job_id}-${DATASETS[0]!.name}_all_dates.csv` })
    ])
    const file = await download(job)
    expect(file.length).toBe(job.file_size_bytes)
    expect((await theirObject(job.deliveries[0]!.location!)).equals(file)).toBe(true)
    expect((await readFile(`${sshd.root}/${job.job_id}-${DATASETS[0]!.name}_all_dates.csv`)).equals(file)).toBe(true)
    // DESTINATION_TESTS_PER_MINUTE (3): two were run above.
    expect((await send('POST', `/api/destinations/${sftp.id}/test`, alice.token)).json().ok).toBe(true)
    const limited = await http.api(`/api/destinations/${sftp.id}/test`, { method: 'POST', token: alice.token })
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    // At most DESTINATIONS_MAX_PER_USER.
    expect((await send('POST', '/api/destinations', alice.token, s3Body('Third'))).status).toBe(201)
    expect((await send('POST', '/api/destinations', alice.token, s3Body('Fourth'))).status).toBe(409)
  })

  it('delivers a schedule\'s runs to its destination; the activity trail records it', async () => {
    const [s3] = (await send('GET', '/api/destinations', alice.token)).json().destinations as DestinationDTO[]
    await send('PATCH', `/api/destinations/${s3!.id}`, alice.token, { config: { prefix: '{schedule}/{filename}' } })
    const schedule = (await send('POST', '/api/analytics/schedules', alice.token, {
      dataset_id: DATASETS[0]!.id, format: 'csv', range: 'all_dates', name: 'Nightly Lake',
      cadence: { frequency: 'daily', time: '03:00', time_zone: 'UTC' }, destination_ids: [s3!.id]
    })).json() as ScheduleDTO
    expect(schedule.request.destination_ids).toEqual([s3!.id])
    const run = await send('POST', `/api/analytics/schedules/${schedule.id}/run`, alice.token)
    const job = await delivered(alice.token, run.json().job_id)
    expect(job.deliveries).toEqual([expect.objectContaining({ status: 'delivered', location: `s3://their-bucket/nightly-lake/${DATASETS[0]!.name}_all_dates.csv` })])
    expect((await theirObject(job.deliveries[0]!.location!)).equals(await download(job))).toBe(true)
    const events = (await send('GET', '/api/audit?limit=100', alice.token)).json().events as Array<{ action: string, object_id: string }>
    expect(events.filter(e => e.object_id === job.job_id).map(e => e.action)).toContain('export.delivered')
    expect(events.map(e => e.action)).toEqual(expect.arrayContaining(['destination.created', 'destination.updated', 'destination.tested']))

    const metrics = await (await http.api('/metrics', { headers: { authorization: 'Bearer destinations-metrics' } })).text()
    expect(Number(/^outport_destination_deliveries_total\{type="s3",outcome="delivered"\} (\d+)/m.exec(metrics)?.[1])).toBe(2)
    expect(Number(/^outport_destination_deliveries_total\{type="sftp",outcome="delivered"\} (\d+)/m.exec(metrics)?.[1])).toBe(1)
    expect(Number(/^outport_destination_bytes_total\{type="s3"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0)
    expect(metrics).toMatch(/^outport_destination_delivery_duration_seconds_count\{type="s3",outcome="delivered"\} 2$/m)

    // Deleting the destination takes it out of the schedule.
    expect((await send('DELETE', `/api/destinations/${s3!.id}`, alice.token)).status).toBe(204)
    expect((await send('GET', `/api/analytics/schedules/${schedule.id}`, alice.token)).json().request.destination_ids).toEqual([])
  })

  it('never shows a secret in an answer or a log line', () => {
    const secrets = ['their-secret-key-do-not-show', sshd.privateKey.split('\n')[1]!]
    const everything = [...answers, suite.server.output()].join('\n')
    for (const secret of secrets) expect(everything).not.toContain(secret)
  })
})
