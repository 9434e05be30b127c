import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { BlobServiceClient, ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '#server/lib/config'
import { createDb, type Db } from '#server/lib/db/client'
import { DestinationDeliverer } from '#server/lib/destinations/deliveries'
import { createDestination, destinationsKey, externalIdDTO, findDestination, foreignDestinationIds, openDestination } from '#server/lib/destinations/store'
import { testDestination } from '#server/lib/destinations/test'
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '#server/lib/local/s3rver'
import { Readable } from 'node:stream'
import { createStorage, uploadStream, type Storage } from '#server/lib/storage/s3'
import { claimChannelNotification, unclaimedJobIds } from '#server/lib/exports/jobs/housekeeping'
import { runExport } from '#server/lib/exports/run'
import { DATASETS, type Dataset } from '#server/lib/warehouse/datasets'
import { buildWarehouse, planDemo } from '#server/lib/warehouse/demo'
import { WarehouseReader } from '#server/lib/warehouse/reader'
import { resolveExportOptions, type ExportMetadata, type ExportResult } from '#shared/types/exports'
import { deliveryLines, jobNews } from '#server/lib/notifications/summary'
import { CreateDestinationSchema, type CreateDestinationInput } from '#shared/types/destinations'
import { startAzurite, type AzuriteHandle } from '../../helpers/azurite'
import { createTestDatabase, type TestDatabase } from '../../helpers/database'
import { startFakeSts, type FakeSts } from '../../helpers/fake-sts'
import { startFaultProxy, type FaultProxy } from '../../helpers/proxy'
import { freePort } from '../../helpers/server'
import { startSigV4Proxy, type SigV4Proxy } from '../../helpers/sigv4-proxy'
import { startSshd, type SshdHandle } from '../../helpers/sshd'

/**
 * Destinations against real servers: a second s3rver as the user's bucket (behind a proxy that
 * checks SigV4 signatures and records headers), azurite, and OpenSSH's sshd; role_arn's AssumeRole
 * goes to a fake STS speaking STS's Query API (the real one is a third party we cannot reach). Each server is started
 * once for the file; jobs are rows whose file is already in Outport's bucket, as the worker leaves them.
 */

const SESSION_PASSWORD = 'x'.repeat(40)
const USER_KEY = { id: 'USERBUCKETKEY', secret: 'user-bucket-secret-0123456789' }
/** Outport's own AWS identity, from the standard credential chain (here the environment), that calls AssumeRole. */
const OUTPORT_KEY = { id: 'AKIAOUTPORTWORKER', secret: 'outport-worker-secret-0123456789' }
const ROLE_ARN = 'arn:aws:iam::123456789012:role/outport-delivery'

describe('destinations', () => {
  let dir: string
  let database: TestDatabase
  let db: Db
  let outport: S3rverHandle
  let theirs: S3rverHandle
  let sigv4: SigV4Proxy
  let sts: FakeSts
  let azurite: AzuriteHandle
  let sshd: SshdHandle
  let storage: Storage
  let userId: string
  let otherId: string
  const lines: string[] = []
  const config = loadConfig({
    DATABASE_URL: 'postgresql://unused', S3_EXPORTS_BUCKET: 'outport', NUXT_SESSION_PASSWORD: SESSION_PASSWORD, WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
    // Every test here saves its destinations for the same user.
    DESTINATIONS_MAX_PER_USER: '20'
  })
  const key = destinationsKey(config)

  const deliverer = (overrides: Partial<ConstructorParameters<typeof DestinationDeliverer>[0]> = {}) => new DestinationDeliverer({
    db, storage, key, allowHosts: ['127.0.0.1'], maxAttempts: 3, retryBaseMs: 1, log: line => lines.push(line), timeoutMs: 5000, ...overrides
  })

  async function destination(input: CreateDestinationInput, owner = userId) {
    return createDestination(db, owner, CreateDestinationSchema.parse(input), config)
  }

  /** A completed job whose file (random bytes) is in Outport's bucket, asking for these destinations. */
  async function completedJob(destinationIds: string[], size = 300_000, owner = userId) {
    const body = randomBytes(size)
    const s3Key = `exports/${owner}/${randomBytes(4).toString('hex')}.csv`
    await storage.client.send(new PutObjectCommand({ Bucket: storage.bucket, Key: s3Key, Body: body }))
    const job = await db.job.create({
      data: {
        userId: owner,
        type: 'EXPORT',
        status: 'completed',
        completedAt: new Date('2026-12-07T10:00:00Z'),
        metadata: {
          dataset_id: '00000000-0000-4000-8000-000000000001', dataset_name: 'transactions', format: 'csv',
          filters: { start_date: '2026-11-01', end_date: '2026-11-30', account_ids: [], tag_ids: [] },
          s3_key: s3Key, file_size_bytes: size, row_count: 1, checksum_sha256: createHash('sha256').update(body).digest('hex'),
          destination_ids: destinationIds
        }
      }
    })
    return { job, body }
  }

  async function deliver(jobId: string, d = deliverer()) {
    await d.jobCompleted(jobId)
    while (await d.tick());
    return db.exportDelivery.findMany({ where: { jobId }, orderBy: { position: 'asc' } })
  }

  const s3Input = (bucket = 'their-bucket', endpoint = sigv4.endpoint, secret = USER_KEY.secret): CreateDestinationInput => ({
    name: 'Lake', type: 's3',
    config: { bucket, prefix: 'drop/{schedule}/{dataset}/{yyyy}/{mm}/{dd}/{filename}', region: 'us-east-1', endpoint, force_path_style: true, sse: 'AES256' },
    credentials: { access_key_id: USER_KEY.id, secret_access_key: secret }
  })
  const azureInput = (container = 'reports', accountKey = azurite.accountKey): CreateDestinationInput => ({
    name: 'Blob', type: 'azure_blob',
    config: { account_url: azurite.accountUrl, container, prefix: 'outport/{job_id}' },
    credentials: { account_name: azurite.accountName, account_key: accountKey }
  })
  const sftpInput = (hostKey: string | null = sshd.hostKeySha256): CreateDestinationInput => ({
    name: 'Vendor', type: 'sftp',
    config: { host: '127.0.0.1', port: sshd.port, username: sshd.username, path: `${sshd.root}/in/{yyyy}{mm}{dd}/{filename}`, host_key_sha256: hostKey },
    credentials: { private_key: sshd.privateKey }
  })

  const theirClient = () => new S3Client({ region: 'us-east-1', endpoint: theirs.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outport-destinations-'))
    database = await createTestDatabase()
    db = createDb(database.url)
    ;[outport, theirs, azurite, sshd] = await Promise.all([
      startS3rver({ directory: join(dir, 'outport'), port: await freePort(), buckets: ['outport'] }),
      startS3rver({ directory: join(dir, 'theirs'), port: await freePort(), buckets: ['their-bucket', 'role-bucket'] }),
      startAzurite(),
      startSshd()
    ])
    sts = await startFakeSts(OUTPORT_KEY.id)
    // The user's bucket accepts the temporary credentials the fake STS hands out, as S3 would.
    sigv4 = await startSigV4Proxy(theirs.port, { [USER_KEY.id]: USER_KEY.secret, [sts.issued.accessKeyId]: sts.issued.secretAccessKey })
    vi.stubEnv('AWS_ACCESS_KEY_ID', OUTPORT_KEY.id)
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', OUTPORT_KEY.secret)
    storage = createStorage({ ...config, S3_ENDPOINT: outport.endpoint, AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey })
    await new BlobServiceClient(azurite.accountUrl, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)).getContainerClient('reports').create()
    userId = (await db.user.create({ data: { email: 'a@example.com', passwordHash: 'x', displayName: 'A' } })).id
    otherId = (await db.user.create({ data: { email: 'b@example.com', passwordHash: 'x', displayName: 'B' } })).id
  }, 60_000)

  afterAll(async () => {
    await Promise.all([sigv4?.close(), sts?.close()])
    vi.unstubAllEnvs()
    await Promise.all([outport?.stop(), theirs?.stop(), azurite?.stop(), sshd?.stop()])
    await db?.$disconnect()
    await database?.drop()
    await rm(dir, { recursive: true, force: true })
  })

  describe('s3', () => {
    it('passes every test step in order, writing and deleting a marker', async () => {
      const result = await testDestination(db, userId, CreateDestinationSchema.parse(s3Input()), { allowHosts: ['127.0.0.1'] })
      expect(result.steps.map(s => [s.step, s.ok])).toEqual([['credentials', true], ['bucket', true], ['write', true], ['delete', true]])
      expect(result.ok).toBe(true)
      const left = await theirClient().send(new ListObjectsV2Command({ Bucket: 'their-bucket', Prefix: 'drop/' }))
      expect(left.Contents ?? []).toEqual([])
    })

    it('tells a wrong secret and a missing bucket apart, each as its own failed step', async () => {
      const wrong = await testDestination(db, userId, CreateDestinationSchema.parse(s3Input('their-bucket', sigv4.endpoint, 'not-the-secret')), { allowHosts: ['127.0.0.1'] })
      expect(wrong.ok).toBe(false)
      expect(wrong.steps).toEqual([expect.objectContaining({ step: 'credentials', ok: false, message: 'The secret access key is wrong (the signature does not match)' })])
      const missing = await testDestination(db, userId, CreateDestinationSchema.parse(s3Input('no-such-bucket')), { allowHosts: ['127.0.0.1'] })
      expect(missing.steps.map(s => [s.step, s.ok])).toEqual([['credentials', true], ['bucket', false]])
      expect(missing.steps[1]!.message).toBe('The bucket no-such-bucket does not exist (404)')
    })

    it('reaches a named endpoint at the address it checked', async () => {
      const named = CreateDestinationSchema.parse(s3Input('their-bucket', sigv4.endpoint.replace('127.0.0.1', 'localhost')))
      expect((await testDestination(db, userId, named, { allowHosts: ['localhost'] })).ok).toBe(true)
      // Not allowed: even over https, localhost resolves to loopback.
      const https = CreateDestinationSchema.parse(s3Input('their-bucket', sigv4.endpoint.replace('http://127.0.0.1', 'https://localhost')))
      expect((await testDestination(db, userId, https, { allowHosts: [] })).steps[0]!.message).toMatch(/^The endpoint resolves to a private or reserved address \((127\.0\.0\.1|::1)\)$/)
    })

    it('refuses a loopback endpoint unless allowed, as webhooks do', async () => {
      const result = await testDestination(db, userId, CreateDestinationSchema.parse(s3Input()), { allowHosts: [] })
      expect(result.steps).toEqual([expect.objectContaining({ step: 'credentials', ok: false, message: 'The endpoint must use https' })])
    })

    it('delivers a multipart file byte for byte to the templated key, with SSE on every write', async () => {
      const d = await destination(s3Input())
      const { job, body } = await completedJob([d.id], 17 * 1024 * 1024)
      sigv4.requests.length = 0
      const [delivery] = await deliver(job.id)
      const key = 'drop/manual/transactions/2026/12/07/transactions_2026-11-01_to_2026-11-30.csv'
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, location: `s3://their-bucket/${key}`, error: null, bytes: BigInt(body.length) })
      const object = await theirClient().send(new GetObjectCommand({ Bucket: 'their-bucket', Key: key }))
      expect(Buffer.from(await object.Body!.transformToByteArray()).equals(body)).toBe(true)
      const writes = sigv4.requests.filter(r => (r.method === 'PUT' && !r.path.includes('partNumber')) || (r.method === 'POST' && r.path.includes('uploads')))
      expect(writes.length).toBeGreaterThan(0)
      for (const write of writes) expect(write.headers['x-amz-server-side-encryption']).toBe('AES256')
      expect(sigv4.requests.some(r => r.path.includes('partNumber'))).toBe(true)
      const audit = await db.auditEvent.findMany({ where: { userId, action: 'export.delivered' } })
      expect(audit.map(a => a.objectId)).toContain(job.id)
    })

    it('retries a destination that went down mid-transfer, and delivers once when it is back', async () => {
      const proxy: FaultProxy = await startFaultProxy(sigv4.port, { uploadBytesPerSecond: 2 * 1024 * 1024 })
      try {
        const input = s3Input('their-bucket', proxy.endpoint)
        const d = await destination({ ...input, name: 'Flaky', config: { ...input.config, prefix: 'flaky/{job_id}' } } as CreateDestinationInput)
        const { job, body } = await completedJob([d.id], 3 * 1024 * 1024)
        const loop = deliverer()
        await loop.jobCompleted(job.id)
        const attempt = loop.tick()
        await new Promise(resolve => setTimeout(resolve, 500))
        proxy.mode = 'down'
        proxy.cutAll()
        await attempt
        const failed = await db.exportDelivery.findFirstOrThrow({ where: { jobId: job.id } })
        expect(failed).toMatchObject({ status: 'pending', attempts: 1 })
        expect(failed.error).toMatch(/^Upload to s3:\/\/their-bucket\/flaky\/.* failed/)
        // Still down: the second attempt fails too.
        await db.exportDelivery.update({ where: { id: failed.id }, data: { nextAttemptAt: new Date() } })
        await loop.tick()
        expect(await db.exportDelivery.findFirstOrThrow({ where: { jobId: job.id } })).toMatchObject({ status: 'pending', attempts: 2 })
        proxy.mode = 'pass'
        proxy.uploadBytesPerSecond = 0
        await db.exportDelivery.update({ where: { id: failed.id }, data: { nextAttemptAt: new Date() } })
        await loop.tick()
        const done = await db.exportDelivery.findFirstOrThrow({ where: { jobId: job.id } })
        expect(done).toMatchObject({ status: 'delivered', attempts: 3, error: null })
        const listing = await theirClient().send(new ListObjectsV2Command({ Bucket: 'their-bucket', Prefix: `flaky/${job.id}/` }))
        expect(listing.Contents?.map(o => o.Key)).toEqual([`flaky/${job.id}/transactions_2026-11-01_to_2026-11-30.csv`])
        const object = await theirClient().send(new GetObjectCommand({ Bucket: 'their-bucket', Key: listing.Contents![0]!.Key }))
        expect(Buffer.from(await object.Body!.transformToByteArray()).equals(body)).toBe(true)
      } finally {
        await proxy.close()
      }
    })

    it('gives up after DESTINATION_MAX_ATTEMPTS with a clear error, and the job stays completed', async () => {
      const d = await destination(s3Input('their-bucket', sigv4.endpoint, 'wrong-secret-wrong-secret'))
      const { job } = await completedJob([d.id])
      const loop = deliverer({ maxAttempts: 2 })
      await loop.jobCompleted(job.id)
      await loop.tick()
      await db.exportDelivery.updateMany({ where: { jobId: job.id }, data: { nextAttemptAt: new Date() } })
      await loop.tick()
      const [delivery] = await db.exportDelivery.findMany({ where: { jobId: job.id } })
      expect(delivery).toMatchObject({ status: 'failed', attempts: 2 })
      expect(delivery!.error).toContain('The secret access key is wrong')
      expect((await db.job.findUniqueOrThrow({ where: { id: job.id } })).status).toBe('completed')
      expect(await db.auditEvent.count({ where: { userId, action: 'export.delivery_failed', objectId: job.id } })).toBe(1)
    })
  })

  describe('s3 with role_arn', () => {
    const roleInput = (roleArn = ROLE_ARN): CreateDestinationInput => {
      const { config } = s3Input('role-bucket') as Extract<CreateDestinationInput, { type: 's3' }>
      return { name: 'Role', type: 's3', config, credentials: { role_arn: roleArn } }
    }

    it('assumes the role with the ExternalId the user sees, then tests and delivers with the temporary credentials', async () => {
      const { external_id: externalId } = await externalIdDTO(db, userId, undefined)
      sts.roles.set(ROLE_ARN, externalId)
      sts.requests.length = 0
      const result = await testDestination(db, userId, CreateDestinationSchema.parse(roleInput()), { allowHosts: ['127.0.0.1'], stsEndpoint: sts.endpoint })
      expect(result.steps.map(s => [s.step, s.ok])).toEqual([['credentials', true], ['bucket', true], ['write', true], ['delete', true]])
      expect(result.steps[0]!.message).toBe(`Assumed ${ROLE_ARN} with your ExternalId`)
      expect(sts.requests).toEqual([{
        callerKeyId: OUTPORT_KEY.id,
        params: { Action: 'AssumeRole', Version: '2011-06-15', RoleArn: ROLE_ARN, ExternalId: externalId, RoleSessionName: `outport-${userId.slice(0, 8)}`, DurationSeconds: '3600' }
      }])

      const d = await destination(roleInput())
      const { job, body } = await completedJob([d.id], 6 * 1024 * 1024)
      sigv4.requests.length = 0
      const [delivery] = await deliver(job.id, deliverer({ stsEndpoint: sts.endpoint }))
      const key = 'drop/manual/transactions/2026/12/07/transactions_2026-11-01_to_2026-11-30.csv'
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, location: `s3://role-bucket/${key}`, error: null })
      const object = await theirClient().send(new GetObjectCommand({ Bucket: 'role-bucket', Key: key }))
      expect(Buffer.from(await object.Body!.transformToByteArray()).equals(body)).toBe(true)
      // Every request to the bucket was signed with the assumed role's keys and carried its session token.
      expect(sigv4.requests.length).toBeGreaterThan(0)
      for (const request of sigv4.requests) {
        expect(request.headers.authorization).toContain(`Credential=${sts.issued.accessKeyId}/`)
        expect(request.headers['x-amz-security-token']).toBe(sts.issued.sessionToken)
      }
      expect(sts.requests.at(-1)!.params.ExternalId).toBe(externalId)
      await db.destination.delete({ where: { id: d.id } })
    })

    it('fails the credentials step, and the delivery, clearly when the role\'s trust policy names another ExternalId', async () => {
      const otherRole = 'arn:aws:iam::123456789012:role/someone-elses'
      sts.roles.set(otherRole, (await externalIdDTO(db, otherId, undefined)).external_id)
      const denied = `Could not assume ${otherRole}: User: arn:aws:iam::111122223333:user/${OUTPORT_KEY.id} is not authorized to perform: sts:AssumeRole on resource: ${otherRole}. Check the role's trust policy names Outport and your ExternalId`
      const result = await testDestination(db, userId, CreateDestinationSchema.parse(roleInput(otherRole)), { allowHosts: ['127.0.0.1'], stsEndpoint: sts.endpoint })
      expect(result.ok).toBe(false)
      expect(result.steps).toEqual([expect.objectContaining({ step: 'credentials', ok: false, message: denied })])

      const d = await destination(roleInput(otherRole))
      const { job } = await completedJob([d.id], 1000)
      const [delivery] = await deliver(job.id, deliverer({ stsEndpoint: sts.endpoint, maxAttempts: 1 }))
      expect(delivery).toMatchObject({ status: 'failed', attempts: 1, error: denied })
      await db.destination.delete({ where: { id: d.id } })
    })
  })

  it('sends S3_SSE and S3_SSE_KMS_KEY_ID on every write to Outport\'s own bucket', async () => {
    const own = createStorage({ ...config, S3_EXPORTS_BUCKET: 'their-bucket', S3_ENDPOINT: sigv4.endpoint, AWS_ACCESS_KEY_ID: USER_KEY.id, AWS_SECRET_ACCESS_KEY: USER_KEY.secret, S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: 'alias/outport' })
    sigv4.requests.length = 0
    await uploadStream(own, 'own/file.bin', Readable.from([randomBytes(1000)]), { contentType: 'application/octet-stream' })
    const writes = sigv4.requests.filter(r => r.method === 'PUT' || (r.method === 'POST' && r.path.includes('uploads')))
    expect(writes.length).toBeGreaterThan(0)
    for (const write of writes) expect(write.headers).toMatchObject({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'alias/outport' })
  })

  describe('azure_blob', () => {
    it('passes the test, and tells a wrong key and a missing container apart', async () => {
      const ok = await testDestination(db, userId, CreateDestinationSchema.parse(azureInput()), { allowHosts: ['127.0.0.1'] })
      expect(ok.steps.map(s => [s.step, s.ok])).toEqual([['credentials', true], ['container', true], ['write', true], ['delete', true]])
      const wrongKey = Buffer.from('not the key, not the key, not the key!').toString('base64')
      const wrong = await testDestination(db, userId, CreateDestinationSchema.parse(azureInput('reports', wrongKey)), { allowHosts: ['127.0.0.1'] })
      expect(wrong.steps).toEqual([expect.objectContaining({ step: 'credentials', ok: false, message: 'The credentials were refused (the account key or SAS token is wrong or expired)' })])
      const missing = await testDestination(db, userId, CreateDestinationSchema.parse(azureInput('no-such-container')), { allowHosts: ['127.0.0.1'] })
      expect(missing.steps.map(s => [s.step, s.ok])).toEqual([['credentials', true], ['container', false]])
      expect(missing.steps[1]!.message).toBe('The container no-such-container does not exist (404)')
    })

    it('holds the job\'s notifications until its deliveries settle, then says where the file went', async () => {
      const d = await destination(azureInput())
      const { job } = await completedJob([d.id], 1000)
      const settled: string[] = []
      const loop = deliverer({ onJobSettled: id => settled.push(id) })
      await loop.jobCompleted(job.id)
      expect(await claimChannelNotification(db, job.id, 'email')).toBeNull()
      expect(await unclaimedJobIds(db, 'email', new Date(0), 1000)).not.toContain(job.id)
      await loop.tick()
      expect(settled).toEqual([job.id])
      const claimed = await claimChannelNotification(db, job.id, 'email')
      expect(claimed?.id).toBe(job.id)
      const news = await jobNews(db, claimed!, { appUrl: 'http://outport.test', downloadKey: null, retentionHours: 24 })
      expect(deliveryLines(news.deliveries)).toEqual([`Delivered to ${azurite.accountUrl}/reports/outport/${job.id}/transactions_2026-11-01_to_2026-11-30.csv`])
    })

    /** A container SAS as the Azure portal makes one, signed with the account key. */
    const sas = (expiresOn: Date) => generateBlobSASQueryParameters({
      containerName: 'reports', permissions: ContainerSASPermissions.parse('racwdl'), startsOn: new Date(Date.now() - 3600_000), expiresOn
    }, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)).toString()
    const sasInput = (token: string): CreateDestinationInput => ({
      name: 'Blob SAS', type: 'azure_blob',
      config: { account_url: azurite.accountUrl, container: 'reports', prefix: 'sas/{job_id}' },
      credentials: { sas_token: token }
    })

    it('passes the test and delivers byte for byte with a container SAS token', async () => {
      const token = sas(new Date(Date.now() + 3600_000))
      const result = await testDestination(db, userId, CreateDestinationSchema.parse(sasInput(`?${token}`)), { allowHosts: ['127.0.0.1'] })
      expect(result.steps.map(s => [s.step, s.ok])).toEqual([['credentials', true], ['container', true], ['write', true], ['delete', true]])
      expect(result.steps[0]!.message).toBe('The SAS token was accepted')
      const d = await destination(sasInput(token))
      expect(d.credentials.kind).toBe('sas_token')
      const { job, body } = await completedJob([d.id], 5 * 1024 * 1024)
      const [delivery] = await deliver(job.id)
      const name = `sas/${job.id}/transactions_2026-11-01_to_2026-11-30.csv`
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, location: `${azurite.accountUrl}/reports/${name}` })
      const blob = new BlobServiceClient(azurite.accountUrl, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)).getContainerClient('reports').getBlockBlobClient(name)
      expect((await blob.downloadToBuffer()).equals(body)).toBe(true)
      await db.destination.delete({ where: { id: d.id } })
    })

    it('fails the credentials step for an expired SAS token and one with a forged signature', async () => {
      const expired = sas(new Date(Date.now() - 60_000))
      const forged = sas(new Date(Date.now() + 3600_000)).replace(/sig=[^&]+/, `sig=${encodeURIComponent(Buffer.alloc(32, 7).toString('base64'))}`)
      for (const token of [expired, forged]) {
        const result = await testDestination(db, userId, CreateDestinationSchema.parse(sasInput(token)), { allowHosts: ['127.0.0.1'] })
        expect(result.ok).toBe(false)
        expect(result.steps).toEqual([expect.objectContaining({ step: 'credentials', ok: false, message: 'The credentials were refused (the account key or SAS token is wrong or expired)' })])
      }
    })

    it('delivers a file byte for byte as a block blob', async () => {
      const d = await destination(azureInput())
      const { job, body } = await completedJob([d.id], 9 * 1024 * 1024)
      const [delivery] = await deliver(job.id)
      const name = `outport/${job.id}/transactions_2026-11-01_to_2026-11-30.csv`
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, location: `${azurite.accountUrl}/reports/${name}` })
      const blob = new BlobServiceClient(azurite.accountUrl, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)).getContainerClient('reports').getBlockBlobClient(name)
      expect((await blob.downloadToBuffer()).equals(body)).toBe(true)
    })
  })

  describe('sftp', () => {
    it('reports the host key of an unpinned server without saving anything, and refuses a mismatch', async () => {
      const unpinned = await testDestination(db, userId, CreateDestinationSchema.parse(sftpInput(null)), { allowHosts: ['127.0.0.1'] })
      expect(unpinned.ok).toBe(false)
      expect(unpinned.host_key_sha256).toBe(sshd.hostKeySha256)
      expect(unpinned.steps.map(s => [s.step, s.ok])).toEqual([['connect', true], ['host_key', false]])
      expect(unpinned.steps[1]!.message).toContain(sshd.hostKeySha256)
      const other = `SHA256:${'A'.repeat(43)}`
      const mismatch = await testDestination(db, userId, CreateDestinationSchema.parse(sftpInput(other)), { allowHosts: ['127.0.0.1'] })
      expect(mismatch.steps.at(-1)).toMatchObject({ step: 'host_key', ok: false })
      expect(mismatch.steps.at(-1)!.message).toContain(`does not match the pinned ${other}`)
    })

    it('passes every step with the pinned key', async () => {
      const result = await testDestination(db, userId, CreateDestinationSchema.parse(sftpInput()), { allowHosts: ['127.0.0.1'] })
      expect(result.steps.map(s => [s.step, s.ok])).toEqual([['connect', true], ['host_key', true], ['authenticate', true], ['directory', true], ['write', true], ['delete', true]])
      expect(await readdir(join(sshd.root, 'in'))).toEqual([])
    })

    it('delivers byte for byte through a temporary name, and a mismatched key fails the delivery clearly', async () => {
      const d = await destination(sftpInput())
      const { job, body } = await completedJob([d.id], 2 * 1024 * 1024)
      const [delivery] = await deliver(job.id)
      const path = `${sshd.root}/in/20261207/transactions_2026-11-01_to_2026-11-30.csv`
      expect(delivery).toMatchObject({ status: 'delivered', location: `sftp://127.0.0.1:${sshd.port}${path}` })
      expect((await readFile(path)).equals(body)).toBe(true)
      expect(await readdir(join(sshd.root, 'in/20261207'))).toEqual(['transactions_2026-11-01_to_2026-11-30.csv'])

      const pinnedWrong = await destination(sftpInput(`SHA256:${'B'.repeat(43)}`))
      const second = await completedJob([pinnedWrong.id])
      const [refused] = await deliver(second.job.id, deliverer({ maxAttempts: 1 }))
      expect(refused).toMatchObject({ status: 'failed', attempts: 1 })
      expect(refused!.error).toContain('does not match the pinned')
    })
  })

  describe('multi-part exports', () => {
    const [TX] = DATASETS as [Dataset]
    const [demo] = planDemo({ users: 1, transactions: 25_000, seed: 25 })
    let metadata: ExportMetadata
    let result: ExportResult

    /** The parts' and the manifest's bytes in Outport's bucket, by file name, manifest last. */
    async function sourceFiles(): Promise<Array<[string, Buffer]>> {
      const get = async (key: string) => Buffer.from(await (await storage.client.send(new GetObjectCommand({ Bucket: storage.bucket, Key: key }))).Body!.transformToByteArray())
      return Promise.all([
        ...result.parts!.map(async part => [part.filename, await get(part.key)] as [string, Buffer]),
        get(result.s3_key).then(body => [`${TX.name}_all_dates_manifest.json`, body] as [string, Buffer])
      ])
    }

    /** A completed job of that export (its objects shared: deliveries only read them). */
    async function partedJob(destinationIds: string[]) {
      return db.job.create({
        data: { userId, type: 'EXPORT', status: 'completed', completedAt: new Date('2026-12-07T10:00:00Z'), metadata: { ...metadata, ...result, destination_ids: destinationIds } as object }
      })
    }

    beforeAll(async () => {
      await buildWarehouse(join(dir, 'warehouse.duckdb'), [demo!], 25)
      const warehouse = new WarehouseReader(join(dir, 'warehouse.duckdb'))
      try {
        metadata = {
          dataset_id: TX.id, dataset_name: TX.name, format: 'csv', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] },
          ...resolveExportOptions({ format: 'csv' }), max_part_rows: 10_000
        }
        result = await runExport({ id: '00000000-0000-4000-8000-000000000025', userId: demo!.user_id, metadata, claimId: null }, {
          warehouse, storage, workDir: join(dir, 'work'), signal: new AbortController().signal, onProgress: () => {}
        })
      } finally {
        warehouse.close()
      }
      expect(result.parts).toHaveLength(3)
    }, 120_000)

    it('writes every part to S3, then the manifest last, byte for byte', async () => {
      const input = s3Input()
      const d = await destination({ ...input, config: { ...input.config, prefix: 'parts/{job_id}/{filename}' } } as CreateDestinationInput)
      const job = await partedJob([d.id])
      sigv4.requests.length = 0
      const [delivery] = await deliver(job.id)
      const files = await sourceFiles()
      const manifestKey = `parts/${job.id}/${files.at(-1)![0]}`
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, location: `s3://their-bucket/${manifestKey}`, error: null })
      for (const [name, body] of files) {
        const object = await theirClient().send(new GetObjectCommand({ Bucket: 'their-bucket', Key: `parts/${job.id}/${name}` }))
        expect(Buffer.from(await object.Body!.transformToByteArray()).equals(body)).toBe(true)
      }
      // Each file's write (a PUT, or the start of a multipart upload), in the order they reached the bucket.
      const writes = sigv4.requests.filter(r => (r.method === 'PUT' && !r.path.includes('partNumber')) || (r.method === 'POST' && r.path.includes('?uploads')))
      const written = writes.map(r => decodeURIComponent(r.path.split('?')[0]!).replace('/their-bucket/', ''))
      expect(written).toEqual(files.map(([name]) => `parts/${job.id}/${name}`))
    })

    it('writes no manifest over SFTP until every part arrived; the retry writes them all', async () => {
      const input = sftpInput()
      const d = await destination({ ...input, config: { ...input.config, path: `${sshd.root}/parts/{job_id}/{filename}` } } as CreateDestinationInput)
      const job = await partedJob([d.id])
      const files = await sourceFiles()
      const folder = join(sshd.root, 'parts', job.id)
      // A directory where part 2 goes: its rename fails after part 1 arrived.
      await mkdir(join(folder, files[1]![0]), { recursive: true })
      const loop = deliverer()
      await loop.jobCompleted(job.id)
      await loop.tick()
      const failed = await db.exportDelivery.findFirstOrThrow({ where: { jobId: job.id } })
      expect(failed).toMatchObject({ status: 'pending', attempts: 1 })
      expect(failed.error).toContain(files[1]![0])
      expect((await readdir(folder)).sort()).toEqual([files[0]![0], files[1]![0]])
      await rm(join(folder, files[1]![0]), { recursive: true })
      await db.exportDelivery.update({ where: { id: failed.id }, data: { nextAttemptAt: new Date() } })
      await loop.tick()
      const done = await db.exportDelivery.findFirstOrThrow({ where: { jobId: job.id } })
      expect(done).toMatchObject({ status: 'delivered', attempts: 2, error: null, location: `sftp://127.0.0.1:${sshd.port}${folder}/${files.at(-1)![0]}` })
      expect((await readdir(folder)).sort()).toEqual(files.map(([name]) => name).sort())
      for (const [name, body] of files) expect((await readFile(join(folder, name))).equals(body)).toBe(true)
    })
  })

  describe('isolation and secrets', () => {
    it('keeps each user to their own destinations', async () => {
      const mine = await destination(azureInput())
      expect(await foreignDestinationIds(db, otherId, [mine.id])).toEqual([mine.id])
      await expect(findDestination(db, otherId, mine.id)).rejects.toMatchObject({ statusCode: 404 })
      // A job of the other user naming my destination gets no delivery to it.
      const { job } = await completedJob([mine.id], 1000, otherId)
      expect(await deliver(job.id)).toEqual([])
    })

    it('seals credentials at rest and keeps them out of DTOs, delivery rows, audit events and log lines', async () => {
      const d = await destination(s3Input())
      const row = await db.destination.findUniqueOrThrow({ where: { id: d.id } })
      expect(row.credentials).not.toContain(USER_KEY.secret)
      expect(row.credentials).toMatch(/^v1\./)
      expect(openDestination(row, key).credentials).toMatchObject({ secret_access_key: USER_KEY.secret })
      expect(d.credentials).toEqual({ kind: 'access_key', hint: `…${USER_KEY.id.slice(-4)}` })
      const everything = JSON.stringify([
        d,
        await db.exportDelivery.findMany(),
        await db.auditEvent.findMany(),
        lines
      ], (_, v: unknown) => typeof v === 'bigint' ? Number(v) : v)
      for (const secret of [USER_KEY.secret, 'not-the-secret', 'wrong-secret-wrong-secret', azurite.accountKey, sshd.privateKey.split('\n')[1]!]) {
        expect(everything).not.toContain(secret)
      }
    })
  })
})
