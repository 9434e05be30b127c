import { createHash } from 'node:crypto'
import { Readable, Transform } from 'node:stream'
import { CompleteMultipartUploadCommand, DeleteObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { SignatureV4 } from '@smithy/signature-v4'
import type { Config } from '../config'
import { tailFile } from './tail'

const STORAGE_SETTINGS = ['S3_EXPORTS_BUCKET', 'AWS_REGION', 'S3_ENDPOINT', 'S3_FORCE_PATH_STYLE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'S3_IDLE_TIMEOUT_SECONDS', 'S3_SSE', 'S3_SSE_KMS_KEY_ID'] as const

/** What a storage client is made from: plain data, so an upload thread can make its own client. */
export type StorageConfig = Pick<Config, typeof STORAGE_SETTINGS[number]>

/** The middleware that leaves upload parts' payloads unsigned (a benchmark's floor removes it). */
export const UNSIGNED_PARTS = 'outportUnsignedParts'

export interface Storage {
  config: StorageConfig
  client: S3Client
  bucket: string
  /** Where an object lives as a URL (path-style or virtual-hosted, as the client addresses it). */
  objectUrl: (key: string) => URL
  signer: SignatureV4
  /** The SDK asks for response checksums unless told to only when required (S3-compatible stores). */
  checksumMode: boolean
}

export function createStorage(config: StorageConfig): Storage {
  const credentials = config.AWS_ACCESS_KEY_ID && config.AWS_SECRET_ACCESS_KEY
    ? { accessKeyId: config.AWS_ACCESS_KEY_ID, secretAccessKey: config.AWS_SECRET_ACCESS_KEY }
    : undefined // the SDK's default chain: IAM role, ~/.aws, ...
  const client = new S3Client({
    region: config.AWS_REGION,
    endpoint: config.S3_ENDPOINT,
    forcePathStyle: config.S3_FORCE_PATH_STYLE ?? Boolean(config.S3_ENDPOINT),
    credentials,
    requestHandler: { connectionTimeout: 10_000, socketTimeout: config.S3_IDLE_TIMEOUT_SECONDS * 1000 },
    // With the SDK's default (checksums always), streamed uploads are sent with aws-chunked framing,
    // which some S3-compatible servers store verbatim inside the object. AWS itself keeps the default.
    ...(config.S3_ENDPOINT ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } as const : {})
  })
  const bucket = config.S3_EXPORTS_BUCKET
  const pathStyle = config.S3_FORCE_PATH_STYLE ?? Boolean(config.S3_ENDPOINT)
  const base = new URL(config.S3_ENDPOINT ?? `https://s3.${config.AWS_REGION}.amazonaws.com`)
  // The upload hashes every byte for the object's checksum already; signing each part's payload
  // would hash it a second time (and the server a third), for nothing TLS and that checksum
  // do not already give.
  client.middlewareStack.add((next, context) => async (args) => {
    if (context.commandName === 'UploadPartCommand') (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD'
    return next(args)
  }, { step: 'build', name: UNSIGNED_PARTS })
  return {
    config: Object.fromEntries(STORAGE_SETTINGS.map(name => [name, config[name]])) as StorageConfig,
    client,
    bucket,
    checksumMode: !config.S3_ENDPOINT,
    objectUrl: (key) => {
      const url = new URL(base)
      if (!pathStyle) url.hostname = `${bucket}.${url.hostname}`
      url.pathname = `${url.pathname.replace(/\/$/, '')}${pathStyle ? `/${bucket}` : ''}/${key.split('/').map(rfc3986).join('/')}`
      return url
    },
    // The SDK's own signer with the client's credentials and hash, used directly: getSignedUrl
    // runs the whole command middleware stack and costs ~1 ms per URL, this ~0.1 ms, and the
    // status endpoint mints a URL on every read.
    signer: new SignatureV4({
      credentials: client.config.credentials,
      region: config.AWS_REGION,
      service: 's3',
      sha256: client.config.sha256,
      uriEscapePath: false,
      applyChecksum: false
    })
  }
}

/** The server-side encryption headers of a write (x-amz-server-side-encryption and its KMS key), or none. */
export function sseParams(mode: 'AES256' | 'aws:kms' | null | undefined, kmsKeyId?: string | null): { ServerSideEncryption?: 'AES256' | 'aws:kms', SSEKMSKeyId?: string } {
  if (!mode) return {}
  return { ServerSideEncryption: mode, ...(mode === 'aws:kms' && kmsKeyId ? { SSEKMSKeyId: kmsKeyId } : {}) }
}

function rfc3986(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

export async function checkBucket(storage: Storage): Promise<void> {
  await storage.client.send(new HeadBucketCommand({ Bucket: storage.bucket }), { abortSignal: AbortSignal.timeout(3000) })
}

export interface UploadResult { size: number, sha256: string }

export interface UploadOptions {
  contentType: string
  onProgress?: (bytesUploaded: number) => void
  signal?: AbortSignal
  partSize?: number
  queueSize?: number
  /**
   * Whether the upload may still commit its object (its run may have lost the job by now). Asked
   * right before the object is committed (CompleteMultipartUpload, or the PutObject of a small
   * body): when it answers false, the upload fails with UploadFencedError and commits nothing.
   */
  fence?: () => Promise<boolean>
}

/** The upload stopped because `fence` said the object is no longer ours to write. */
export class UploadFencedError extends Error {
  constructor() {
    super('The upload was stopped: this run no longer owns the object')
  }
}

/**
 * How long a failed upload waits for the answer to a commit it had sent before cutting the request:
 * a commit answers in well under a second, while a small file's PutObject carries the whole body
 * and on a slow link must not hold a cancel or a shutdown. What a cut commit still creates is left
 * to the orphan sweep.
 */
const COMMIT_WAIT_MS = 5000

interface Commits {
  /** Whether a commit request went out (its object may exist). */
  sent: boolean
  /** Each commit from its fence check to its answer; never rejects. */
  settled: Array<Promise<unknown>>
  /** Cuts the commit requests still waiting for their answer. */
  cut: AbortController
}

/**
 * The client, watching the commands that commit an object (CompleteMultipartUpload, or the PutObject
 * of a small body): `fence` is asked before each, an aborted upload sends none, and `commits` follows
 * each one from that check to its answer. Aborting the upload does not stop a commit already sent
 * (the SDK's abort only stops waiting for it), so its object may land after the upload has failed.
 */
function committingClient(client: S3Client, opts: UploadOptions, commits: Commits): S3Client {
  const watched = Object.create(client) as S3Client
  watched.send = ((command: unknown, options?: object) => {
    const send = (extra: object = {}) => (client.send as (...args: unknown[]) => Promise<unknown>)(command, { ...options, ...extra })
    if (!(command instanceof CompleteMultipartUploadCommand || command instanceof PutObjectCommand)) return send()
    const commit = (async () => {
      if (opts.fence && !await opts.fence()) throw new UploadFencedError()
      if (opts.signal?.aborted) throw Object.assign(new Error('Upload aborted.'), { name: 'AbortError' })
      commits.sent = true
      return send({ abortSignal: commits.cut.signal })
    })()
    commits.settled.push(commit.catch(() => {}))
    return commit
  }) as S3Client['send']
  return watched
}

/** Waits for the commits' answers, cutting those still open after COMMIT_WAIT_MS. */
async function settle(commits: Commits): Promise<void> {
  const answered = Promise.all(commits.settled)
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      commits.cut.abort()
      resolve()
    }, COMMIT_WAIT_MS)
  })
  await Promise.race([answered, late])
  clearTimeout(timer)
  await answered
}

/**
 * Streams bytes to S3 as a multipart upload, hashing them on the way. On any failure the multipart
 * upload is aborted, so no parts or partial object remain. The stream's own error (e.g. the
 * producer failed) fails the upload the same way. `key` must be this upload's alone (an attempt's
 * own key): a failed upload whose commit was sent waits for that commit's answer and then deletes
 * the object, which it could only do blindly to a key nobody else writes.
 */
export async function uploadStream(storage: Storage, key: string, source: Readable, opts: UploadOptions): Promise<UploadResult> {
  const hash = createHash('sha256')
  let size = 0
  const body = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      size += chunk.length
      callback(null, chunk)
    }
  })
  source.on('error', error => body.destroy(error))
  source.pipe(body)
  const commits: Commits = { sent: false, settled: [], cut: new AbortController() }
  const upload = new Upload({
    client: committingClient(storage.client, opts, commits),
    params: { Bucket: storage.bucket, Key: key, Body: body, ContentType: opts.contentType, ...sseParams(storage.config.S3_SSE, storage.config.S3_SSE_KMS_KEY_ID) },
    partSize: opts.partSize ?? 16 * 1024 * 1024,
    queueSize: opts.queueSize ?? 4,
    leavePartsOnError: false
  })
  upload.on('httpUploadProgress', p => opts.onProgress?.(p.loaded ?? 0))
  const onAbort = () => {
    void upload.abort()
  }
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await upload.done()
  } catch (error) {
    source.unpipe(body)
    body.destroy()
    // A commit in flight (a fence check, or the request itself) may still create the object: it is
    // removed once its answer is in, whether that answer was a success, an error or a cut connection.
    await settle(commits)
    if (commits.sent) await deleteObject(storage, key).catch(() => {})
    throw error
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
  }
  return { size, sha256: hash.digest('hex') }
}

/** A file its writer may still be appending to; `finished` settles when the writer is done. */
export interface GrowingFile {
  path: string
  finished: Promise<unknown>
  /** Bytes the object starts with before the file's (what the file's writer could not write itself). */
  prefix?: Buffer
}

/**
 * Uploads a file as it is written: parts go out while the writer is still appending, so the
 * upload ends shortly after the writer instead of starting then. A writer that fails fails the
 * upload (and so aborts the multipart upload).
 */
export async function uploadGrowingFile(storage: Storage, key: string, file: GrowingFile, opts: UploadOptions): Promise<UploadResult> {
  const source = Readable.from(prefixed(file.prefix, tailFile(file.path, { finished: file.finished, signal: opts.signal })), { objectMode: false })
  try {
    return await uploadStream(storage, key, source, opts)
  } finally {
    source.destroy()
  }
}

async function* prefixed(prefix: Buffer | undefined, rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  if (prefix?.length) yield prefix
  yield* rest
}

export async function deleteObject(storage: Storage, key: string): Promise<void> {
  await storage.client.send(new DeleteObjectCommand({ Bucket: storage.bucket, Key: key }))
}

export interface StoredObject { key: string, lastModified: Date }

/** The objects whose keys start with `prefix`, a page (up to 1,000) at a time. */
export async function* listObjects(storage: Storage, prefix: string): AsyncGenerator<StoredObject[]> {
  let token: string | undefined
  do {
    const page = await storage.client.send(new ListObjectsV2Command({ Bucket: storage.bucket, Prefix: prefix, ContinuationToken: token }))
    yield (page.Contents ?? []).map(o => ({ key: o.Key!, lastModified: o.LastModified ?? new Date() }))
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
}

/** Whether the object is there; other failures (storage unreachable) throw. */
export async function objectExists(storage: Storage, key: string): Promise<boolean> {
  try {
    await storage.client.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: key }), { abortSignal: AbortSignal.timeout(5000) })
    return true
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false
    throw error
  }
}

export interface PresignOptions { filename: string, contentType: string, expiresIn: number, signingDate?: Date }

/**
 * A presigned GET that downloads as an attachment with the given name and type: the same URL the
 * SDK's getSignedUrl(GetObjectCommand) produces (a test holds the two equal), ten times cheaper.
 */
export async function presignDownload(storage: Storage, key: string, opts: PresignOptions): Promise<string> {
  const url = storage.objectUrl(key)
  const signed = await storage.signer.presign({
    method: 'GET',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query: {
      'response-content-disposition': contentDisposition(opts.filename),
      'response-content-type': opts.contentType,
      'x-id': 'GetObject',
      ...(storage.checksumMode && { 'x-amz-checksum-mode': 'ENABLED' })
    },
    // Hoisted into the query by the signer, and read by it as the payload hash.
    headers: { 'host': url.host, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' }
  }, { expiresIn: opts.expiresIn, signingDate: opts.signingDate })
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(String(v))}`)
    .join('&')
  return `${url.protocol}//${url.host}${url.pathname}?${query}`
}

/** RFC 6266: an ASCII fallback plus the exact UTF-8 name. */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_')
  return ascii === filename
    ? `attachment; filename="${filename}"`
    : `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`
}
