import { randomUUID } from 'node:crypto'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import type { LookupFunction } from 'node:net'
import { DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import type { S3Config, S3Credentials } from '#shared/types/destinations'
import { sseParams } from '#server/lib/storage/s3'
import { staticFolder } from '../template'
import { DestinationError, vetEndpoint, type Driver, type DriverDeps, type TestSteps } from './driver'

/**
 * Amazon S3 and S3-compatible stores (R2, MinIO, GCS's XML API with HMAC keys). Access keys, or a
 * role assumed with the user's ExternalId. The object is written by a multipart upload streamed
 * from Outport's bucket (aborted on failure, so no partial object is ever visible), with the
 * destination's server-side encryption on every write, then checked by size.
 */

async function client(config: S3Config, credentials: S3Credentials, deps: DriverDeps): Promise<S3Client> {
  // Checked at every use: a name accepted yesterday may point at 127.0.0.1 today. The connection
  // then goes to the checked address, so DNS cannot change between the check and the connect.
  const vetted = config.endpoint ? await vetEndpoint(config.endpoint, deps, 'endpoint') : null
  const lookup: LookupFunction | undefined = vetted
    ? (_hostname, options, callback) => {
        if (options.all) (callback as (error: null, addresses: Array<{ address: string, family: number }>) => void)(null, vetted.addresses)
        else callback(null, vetted.address, vetted.family)
      }
    : undefined
  return new S3Client({
    region: config.region,
    endpoint: config.endpoint ?? undefined,
    forcePathStyle: config.force_path_style ?? false,
    credentials: await resolveCredentials(config, credentials, deps),
    // Retries are the delivery queue's, with backoff; a test answers at once.
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: 10_000,
      socketTimeout: deps.timeoutMs,
      ...(lookup && { httpAgent: new HttpAgent({ keepAlive: true, lookup }), httpsAgent: new HttpsAgent({ keepAlive: true, lookup }) })
    },
    // S3-compatible stores may store aws-chunked framing verbatim (see server/lib/storage/s3.ts).
    ...(config.endpoint ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } as const : {})
  })
}

async function resolveCredentials(config: S3Config, credentials: S3Credentials, deps: DriverDeps) {
  if (!credentials.role_arn) return { accessKeyId: credentials.access_key_id!, secretAccessKey: credentials.secret_access_key! }
  const sts = new STSClient({ region: config.region === 'auto' ? 'us-east-1' : config.region, endpoint: deps.stsEndpoint, maxAttempts: 1, requestHandler: { connectionTimeout: 10_000, socketTimeout: deps.timeoutMs } })
  try {
    const { Credentials: c } = await sts.send(new AssumeRoleCommand({ RoleArn: credentials.role_arn, RoleSessionName: deps.sessionName, ExternalId: deps.externalId, DurationSeconds: 3600 }))
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new DestinationError('AssumeRole returned no credentials')
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken }
  } catch (error) {
    if (error instanceof DestinationError) throw error
    throw new DestinationError(`Could not assume ${credentials.role_arn}: ${(error as Error).message}. Check the role's trust policy names Outport and your ExternalId`)
  } finally {
    sts.destroy()
  }
}

const CREDENTIAL_CODES: Record<string, string> = {
  SignatureDoesNotMatch: 'The secret access key is wrong (the signature does not match)',
  InvalidAccessKeyId: 'The access key id is not known to this store',
  ExpiredToken: 'The credentials have expired',
  InvalidToken: 'The session token is not valid'
}

function code(error: unknown): { code: string, status: number | undefined } {
  if (error instanceof S3ServiceException) return { code: error.name, status: error.$metadata.httpStatusCode }
  const e = error as { name?: string, code?: string, $metadata?: { httpStatusCode?: number } }
  return { code: e.code ?? e.name ?? 'Error', status: e.$metadata?.httpStatusCode }
}

/** A failed request as the user should read it; null if it says nothing about credentials. */
function credentialProblem(error: unknown): string | null {
  return CREDENTIAL_CODES[code(error).code] ?? null
}

function reason(error: unknown, bucket: string): string {
  const { code: name, status } = code(error)
  const known = CREDENTIAL_CODES[name]
  if (known) return known
  if (name === 'NoSuchBucket' || status === 404) return `The bucket ${bucket} does not exist (404)`
  if (name === 'AccessDenied' || status === 403) return `Access denied (403): these credentials may not do this in ${bucket}`
  if (name === 'PermanentRedirect' || (status && status >= 300 && status < 400)) return `The bucket answered with a redirect (${status}): set the bucket's region`
  const message = (error as Error).message
  return `${name}${status ? ` (${status})` : ''}${message && message !== name ? `: ${message}` : ''}`
}

function location(config: S3Config, key: string): string {
  return `s3://${config.bucket}/${key}`
}

export const s3Driver: Driver<S3Config, S3Credentials> = {
  absolutePaths: false,

  async test(config, credentials, deps, steps: TestSteps) {
    let s3: S3Client | undefined
    // One list request tells both: the credentials (a signature error) and the bucket (404 or 403).
    let listing: unknown = null
    try {
      await steps.run('credentials', async () => {
        s3 = await client(config, credentials, deps)
        try {
          await s3.send(new ListObjectsV2Command({ Bucket: config.bucket, MaxKeys: 1 }))
        } catch (error) {
          const problem = credentialProblem(error)
          if (problem) throw new DestinationError(problem)
          listing = error
        }
        return credentials.role_arn ? `Assumed ${credentials.role_arn} with your ExternalId` : `The store accepted access key …${credentials.access_key_id!.slice(-4)}`
      })
      let listDenied = false
      await steps.run('bucket', async () => {
        if (!listing) return `Bucket ${config.bucket} is reachable`
        const { code: name, status } = code(listing)
        if (name === 'NoSuchBucket' || status === 404) throw new DestinationError(`The bucket ${config.bucket} does not exist (404)`)
        if (name === 'AccessDenied' || status === 403) {
          listDenied = true
          return `Bucket ${config.bucket} exists, but these credentials may not list it (403); trying a write`
        }
        throw new DestinationError(reason(listing, config.bucket))
      })
      const folder = staticFolder(config.prefix)
      const key = `${folder ? `${folder}/` : ''}.outport-test-${randomUUID()}`
      await steps.run('write', async () => {
        try {
          await s3!.send(new PutObjectCommand({ Bucket: config.bucket, Key: key, Body: 'Outport destination test\n', ContentType: 'text/plain', ...sseParams(config.sse, config.kms_key_id) }))
        } catch (error) {
          throw new DestinationError(`Could not write ${location(config, key)}: ${reason(error, config.bucket)}`)
        }
        return `Wrote ${location(config, key)}${config.sse ? ` (encrypted with ${config.sse})` : ''}`
      })
      await steps.run('delete', async () => {
        try {
          await s3!.send(new DeleteObjectCommand({ Bucket: config.bucket, Key: key }))
        } catch (error) {
          const { code: name, status } = code(error)
          // A bucket that allows only writes is a sound set-up for a drop box: it passes.
          if (name === 'AccessDenied' || status === 403) return `This bucket allows writes only, which is fine for deliveries; delete the marker ${key} yourself`
          throw new DestinationError(`Could not delete the marker ${key}: ${reason(error, config.bucket)}`)
        }
        return `Deleted the marker${listDenied ? ' (this bucket allows writing but not listing, which is fine for deliveries)' : ''}`
      })
    } finally {
      s3?.destroy()
    }
  },

  async deliver(config, credentials, key, source, deps) {
    const s3 = await client(config, credentials, deps)
    try {
      const body = await source.open()
      const upload = new Upload({
        client: s3,
        params: { Bucket: config.bucket, Key: key, Body: body, ContentType: source.contentType, ContentLength: source.size, ...sseParams(config.sse, config.kms_key_id) },
        partSize: 16 * 1024 * 1024,
        queueSize: 4,
        leavePartsOnError: false
      })
      try {
        await upload.done()
      } catch (error) {
        body.destroy()
        throw new DestinationError(`Upload to ${location(config, key)} failed: ${reason(error, config.bucket)}`)
      }
      let size: number | undefined
      try {
        size = (await s3.send(new HeadObjectCommand({ Bucket: config.bucket, Key: key }))).ContentLength
      } catch (error) {
        throw new DestinationError(`Could not check ${location(config, key)} after the upload: ${reason(error, config.bucket)}`)
      }
      if (size !== source.size) throw new DestinationError(`${location(config, key)} has ${size} bytes, expected ${source.size}`)
      return { location: location(config, key), bytes: source.size }
    } finally {
      s3.destroy()
    }
  }
}
