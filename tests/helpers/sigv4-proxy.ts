import { createHash, createHmac } from 'node:crypto'
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http'
import { SignatureV4 } from '@smithy/signature-v4'

/**
 * An HTTP proxy in front of s3rver that checks AWS Signature V4 as S3 does (s3rver accepts any
 * signature), answering 403 SignatureDoesNotMatch or InvalidAccessKeyId in S3's XML, and records
 * every request's method, path and headers (to check what reached the server: SSE headers).
 */
export interface SigV4Proxy {
  endpoint: string
  port: number
  requests: Array<{ method: string, path: string, headers: IncomingHttpHeaders }>
  close: () => Promise<void>
}

type SourceData = string | ArrayBuffer | ArrayBufferView

function bytes(data: SourceData): string | Buffer {
  if (typeof data === 'string') return data
  return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data)
}

/** The signer's hash, on node:crypto. */
class Sha256 {
  private readonly hash
  constructor(secret?: SourceData) {
    this.hash = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256')
  }

  update(data: SourceData): void {
    this.hash.update(bytes(data))
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest())
  }
}

function s3Error(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`
}

/** `x-amz-date` (20261207T033500Z) as a Date. */
function amzDate(value: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)
  return m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)) : new Date(Number.NaN)
}

async function verify(method: string, url: string, headers: IncomingHttpHeaders, secrets: Record<string, string>): Promise<{ code: string, message: string } | null> {
  const auth = headers.authorization ?? ''
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(auth)
  if (!m) return { code: 'AccessDenied', message: 'Missing or malformed Authorization' }
  const [, accessKeyId, , region, service, signedHeaders, signature] = m
  const secretAccessKey = secrets[accessKeyId!]
  if (!secretAccessKey) return { code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' }
  const parsed = new URL(url, 'http://placeholder')
  const query: Record<string, string | string[]> = {}
  for (const [key, value] of parsed.searchParams) {
    const existing = query[key]
    query[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value]
  }
  const names = signedHeaders!.split(';')
  const signed = Object.fromEntries(names.map(name => [name, String(headers[name] ?? '')]))
  const signer = new SignatureV4({ credentials: { accessKeyId: accessKeyId!, secretAccessKey }, region: region!, service: service!, sha256: Sha256, uriEscapePath: false, applyChecksum: false })
  const request = await signer.sign({
    method,
    protocol: 'http:',
    hostname: parsed.hostname,
    path: parsed.pathname,
    query,
    headers: signed
  }, { signingDate: amzDate(String(headers['x-amz-date'] ?? '')), signableHeaders: new Set(names) })
  const expected = /Signature=([0-9a-f]+)/.exec(request.headers.authorization ?? '')?.[1]
  return expected === signature ? null : { code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' }
}

/**
 * `secrets`: access key id → secret access key that the proxy accepts. Verified requests are passed
 * on under `upstreamAccessKeyId` (s3rver checks the key id, never the signature).
 */
export async function startSigV4Proxy(targetPort: number, secrets: Record<string, string>, upstreamAccessKeyId = 'S3RVER'): Promise<SigV4Proxy> {
  const proxy: SigV4Proxy = { endpoint: '', port: 0, requests: [], close: async () => {} }
  const server: Server = createServer((req, res) => {
    proxy.requests.push({ method: req.method!, path: req.url!, headers: req.headers })
    void verify(req.method!, req.url!, req.headers, secrets).then((problem) => {
      if (problem) {
        req.resume()
        res.writeHead(403, { 'content-type': 'application/xml' }).end(req.method === 'HEAD' ? undefined : s3Error(problem.code, problem.message))
        return
      }
      const headers = { ...req.headers, authorization: req.headers.authorization!.replace(/Credential=[^/]+\//, `Credential=${upstreamAccessKeyId}/`) }
      const upstream = httpRequest({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers)
        answer.pipe(res)
      })
      upstream.on('error', () => res.destroy())
      req.pipe(upstream)
    }, () => res.writeHead(500).end())
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  proxy.port = typeof address === 'object' && address ? address.port : 0
  proxy.endpoint = `http://127.0.0.1:${proxy.port}`
  proxy.close = () => new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
  return proxy
}
