import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A local stand-in for AWS STS's AssumeRole, speaking its Query API as the SDK does: a
 * form-encoded POST with Action=AssumeRole and Version=2011-06-15, signed with SigV4 for service
 * `sts`, answered with AssumeRoleResponse XML (Credentials, AssumedRoleUser), or an ErrorResponse
 * (AccessDenied, 403) when the role's trust policy does not name the caller or its ExternalId.
 */

export interface TemporaryCredentials { accessKeyId: string, secretAccessKey: string, sessionToken: string }

export interface AssumeRoleRequest {
  /** The access key id the request was signed with (Outport's own identity). */
  callerKeyId: string | null
  params: Record<string, string>
}

export interface FakeSts {
  endpoint: string
  /** Role ARN → the ExternalId its trust policy requires. */
  roles: Map<string, string>
  requests: AssumeRoleRequest[]
  /** What every successful AssumeRole hands out. */
  issued: TemporaryCredentials
  close: () => Promise<void>
}

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/'

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function errorResponse(status: number, code: string, message: string): [number, string] {
  return [status, `<ErrorResponse xmlns="${NS}">\n  <Error>\n    <Type>Sender</Type>\n    <Code>${code}</Code>\n    <Message>${escape(message)}</Message>\n  </Error>\n  <RequestId>${randomUUID()}</RequestId>\n</ErrorResponse>\n`]
}

/** `callerKeyId`: the only identity allowed to assume the roles (as a trust policy's Principal). */
export async function startFakeSts(callerKeyId: string): Promise<FakeSts> {
  const sts: FakeSts = {
    endpoint: '',
    roles: new Map(),
    requests: [],
    issued: { accessKeyId: `ASIA${randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase()}`, secretAccessKey: randomUUID() + randomUUID(), sessionToken: `FwoGZXIvYXdzE${randomUUID()}` },
    close: async () => {}
  }

  function answer(method: string, contentType: string, authorization: string, body: string): [number, string] {
    if (method !== 'POST' || !contentType.startsWith('application/x-www-form-urlencoded')) return errorResponse(400, 'InvalidAction', 'Expected a form-encoded POST')
    const params = Object.fromEntries(new URLSearchParams(body))
    const signer = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/[^/]+\/sts\/aws4_request,/.exec(authorization)?.[1] ?? null
    sts.requests.push({ callerKeyId: signer, params })
    if (!signer) return errorResponse(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token')
    if (params.Action !== 'AssumeRole') return errorResponse(400, 'InvalidAction', `Could not find operation ${params.Action} for version ${params.Version}`)
    if (params.Version !== '2011-06-15') return errorResponse(400, 'InvalidAction', `Could not find operation AssumeRole for version ${params.Version}`)
    for (const name of ['RoleArn', 'RoleSessionName']) {
      if (!params[name]) return errorResponse(400, 'MissingParameter', `The request must contain the parameter ${name}`)
    }
    const required = sts.roles.get(params.RoleArn!)
    if (signer !== callerKeyId || required === undefined || params.ExternalId !== required) {
      return errorResponse(403, 'AccessDenied', `User: arn:aws:iam::111122223333:user/${signer} is not authorized to perform: sts:AssumeRole on resource: ${params.RoleArn}`)
    }
    const expiration = new Date(Date.now() + Number(params.DurationSeconds ?? 3600) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
    return [200, `<AssumeRoleResponse xmlns="${NS}">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <Arn>${escape(params.RoleArn!.replace(':iam:', ':sts:').replace(':role/', ':assumed-role/'))}/${escape(params.RoleSessionName!)}</Arn>
      <AssumedRoleId>AROA3XFRBF535EXAMPLE:${escape(params.RoleSessionName!)}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${sts.issued.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${sts.issued.secretAccessKey}</SecretAccessKey>
      <SessionToken>${sts.issued.sessionToken}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>${randomUUID()}</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
`]
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const [status, xml] = answer(req.method!, String(req.headers['content-type'] ?? ''), String(req.headers.authorization ?? ''), Buffer.concat(chunks).toString())
      res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() }).end(xml)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  sts.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  sts.close = () => new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
  return sts
}
