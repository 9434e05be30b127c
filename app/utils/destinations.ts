import type { CreateDestinationInput, CredentialKind, DestinationDTO, DestinationType, S3SseMode, UpdateDestinationInput } from '#shared/types/destinations'
import { DEFAULT_PATH_TEMPLATE } from '#shared/types/destinations'

/**
 * What the user picks first on the Destinations page: the API's three types, with S3 split in two
 * (AWS itself, or another store through its S3 interface, which needs an endpoint).
 */
export type DestinationKind = 's3' | 's3_compatible' | 'azure_blob' | 'sftp'
const DESTINATION_KINDS: Record<DestinationKind, { type: DestinationType, label: string, description: string }> = {
  s3: { type: 's3', label: 'Amazon S3', description: 'A bucket in your AWS account: access keys, or a role Outport assumes' },
  s3_compatible: { type: 's3', label: 'S3-compatible', description: 'Cloudflare R2, MinIO, Google Cloud Storage (HMAC keys) and others' },
  azure_blob: { type: 'azure_blob', label: 'Azure Blob Storage', description: 'A container: SAS token or account key' },
  sftp: { type: 'sftp', label: 'SFTP', description: 'A server you or a vendor run: private key or password, host key pinned' }
}
export const DESTINATION_KIND_IDS = Object.keys(DESTINATION_KINDS) as DestinationKind[]

export function kindInfo(kind: DestinationKind) {
  return DESTINATION_KINDS[kind]
}

/** A test's step ids (DESTINATION_TEST_STEPS) in words. */
export const TEST_STEP_LABELS: Record<string, string> = {
  credentials: 'Credentials',
  bucket: 'Bucket reachable',
  container: 'Container reachable',
  connect: 'Connect',
  host_key: 'Host key',
  authenticate: 'Sign in',
  directory: 'Directory',
  write: 'Write a test file',
  delete: 'Delete the test file'
}

/** The kind of a saved destination: an S3 one with a custom endpoint is S3-compatible. */
export function destinationKind(d: DestinationDTO): DestinationKind {
  if (d.type === 's3') return d.config.endpoint ? 's3_compatible' : 's3'
  return d.type
}

/** Where a destination points, in one line: what the picker and the cards show under its name. */
export function destinationSummary(d: DestinationDTO): string {
  const label = kindInfo(destinationKind(d)).label
  if (d.type === 's3') return `${label} · s3://${d.config.bucket}${d.config.endpoint ? ` at ${hostOf(d.config.endpoint)}` : ` (${d.config.region})`}`
  if (d.type === 'azure_blob') return `${label} · ${d.config.account_url.replace(/\/+$/, '')}/${d.config.container}`
  return `${label} · sftp://${d.config.username}@${d.config.host}${d.config.port === 22 ? '' : `:${d.config.port}`}`
}

function hostOf(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return url
  }
}

/** The destination form's fields: flat and always present, whatever the kind (like the schedule form's draft). */
export interface DestinationDraft {
  kind: DestinationKind
  name: string
  /** The prefix (S3, Azure) or path (SFTP) template; empty = the default. */
  path: string
  bucket: string
  region: string
  endpoint: string
  force_path_style: boolean
  sse: S3SseMode | 'none'
  kms_key_id: string
  s3_auth: 'access_key' | 'role_arn'
  access_key_id: string
  secret_access_key: string
  role_arn: string
  account_url: string
  container: string
  azure_auth: 'sas_token' | 'account_key'
  sas_token: string
  account_name: string
  account_key: string
  host: string
  port: number
  username: string
  host_key_sha256: string
  sftp_auth: 'private_key' | 'password'
  private_key: string
  passphrase: string
  password: string
}

export function newDestinationDraft(kind: DestinationKind = 's3'): DestinationDraft {
  return {
    kind, name: '', path: '',
    bucket: '', region: kind === 's3_compatible' ? 'auto' : 'us-east-1', endpoint: '', force_path_style: false, sse: 'none', kms_key_id: '',
    s3_auth: 'access_key', access_key_id: '', secret_access_key: '', role_arn: '',
    account_url: '', container: '', azure_auth: 'sas_token', sas_token: '', account_name: '', account_key: '',
    host: '', port: 22, username: '', host_key_sha256: '', sftp_auth: 'private_key', private_key: '', passphrase: '', password: ''
  }
}

/** The form for editing a saved destination: its config, and its credentials' kind with every secret blank (blank = unchanged). */
export function toDestinationDraft(d: DestinationDTO): DestinationDraft {
  const draft = { ...newDestinationDraft(destinationKind(d)), name: d.name }
  const kind = d.credentials.kind
  if (d.type === 's3') {
    const c = d.config
    return { ...draft, path: c.prefix, bucket: c.bucket, region: c.region, endpoint: c.endpoint ?? '', force_path_style: c.force_path_style,
      sse: c.sse ?? 'none', kms_key_id: c.kms_key_id ?? '', s3_auth: kind === 'role_arn' ? 'role_arn' : 'access_key' }
  }
  if (d.type === 'azure_blob') {
    const c = d.config
    return { ...draft, path: c.prefix, account_url: c.account_url, container: c.container, azure_auth: kind === 'account_key' ? 'account_key' : 'sas_token' }
  }
  const c = d.config
  return { ...draft, path: c.path, host: c.host, port: c.port, username: c.username, host_key_sha256: c.host_key_sha256 ?? '',
    sftp_auth: kind === 'password' ? 'password' : 'private_key' }
}

const trimmed = (v: string) => v.trim()
const orNull = (v: string) => v.trim() || null

/** The config the form describes, as the API takes it (every field of the type; null clears an optional one). */
function draftConfig(d: DestinationDraft): Record<string, unknown> {
  const path = d.path.trim() || DEFAULT_PATH_TEMPLATE
  if (d.kind === 'azure_blob') return { account_url: trimmed(d.account_url), container: trimmed(d.container), prefix: path }
  if (d.kind === 'sftp') return { host: trimmed(d.host), port: Number(d.port), path, username: trimmed(d.username), host_key_sha256: orNull(d.host_key_sha256) }
  return {
    bucket: trimmed(d.bucket), prefix: path, region: trimmed(d.region),
    endpoint: d.kind === 's3_compatible' ? orNull(d.endpoint) : null,
    force_path_style: d.kind === 's3_compatible' ? d.force_path_style : null,
    sse: d.sse === 'none' ? null : d.sse,
    kms_key_id: d.sse === 'aws:kms' ? orNull(d.kms_key_id) : null
  }
}

/** The credentials the form holds, in the shape of the chosen kind; secrets are sent as typed. */
function draftCredentials(d: DestinationDraft): Record<string, string> {
  if (d.kind === 'azure_blob') return d.azure_auth === 'sas_token' ? { sas_token: d.sas_token.trim() } : { account_name: d.account_name.trim(), account_key: d.account_key.trim() }
  if (d.kind === 'sftp') {
    if (d.sftp_auth === 'password') return { password: d.password }
    return d.passphrase ? { private_key: d.private_key, passphrase: d.passphrase } : { private_key: d.private_key }
  }
  return usesRole(d) ? { role_arn: d.role_arn.trim() } : { access_key_id: d.access_key_id.trim(), secret_access_key: d.secret_access_key.trim() }
}

/** The credentials kind the form's choice means, to tell whether an edit switched it. */
function draftCredentialKind(d: DestinationDraft): CredentialKind {
  if (d.kind === 'azure_blob') return d.azure_auth
  if (d.kind === 'sftp') return d.sftp_auth
  return usesRole(d) ? 'role_arn' : 'access_key'
}

/** Only AWS itself can assume a role; other S3-compatible stores take keys. */
export function usesRole(d: Pick<DestinationDraft, 'kind' | 's3_auth'>): boolean {
  return d.kind === 's3' && d.s3_auth === 'role_arn'
}

/** POST /api/destinations (and /test): the whole destination. An empty secret is sent empty, so the API names it on its own field. */
export function createDestinationBody(d: DestinationDraft): CreateDestinationInput {
  return { name: d.name.trim(), type: kindInfo(d.kind).type, config: draftConfig(d), credentials: draftCredentials(d) } as CreateDestinationInput
}

/**
 * PATCH /api/destinations/{id}: name and config always; credentials only when something was typed
 * into them or their kind changed (blank secrets keep the saved ones).
 */
export function updateDestinationBody(d: DestinationDraft, saved: DestinationDTO): UpdateDestinationInput {
  const { name, config, credentials } = createDestinationBody(d)
  const changed = Object.values(credentials).some(v => v !== '') || draftCredentialKind(d) !== saved.credentials.kind
  return (changed ? { name, config, credentials } : { name, config }) as UpdateDestinationInput
}

/** The form field an API error names: `config.prefix` → `path`, `credentials.password` → `password`. */
export function destinationDraftField(apiField: string): string {
  const field = apiField.replace(/^(config|credentials)\./, '')
  return field === 'prefix' ? 'path' : field
}

/** The part of a key template before its first placeholder: what an IAM policy can name. */
function staticPrefix(template: string): string {
  return (template || DEFAULT_PATH_TEMPLATE).split('{')[0]!.replace(/^\/+/, '')
}

/**
 * The IAM permissions policy the role needs, as JSON to paste: check the bucket, write (and
 * abort a multipart upload of) objects under the template's fixed prefix, delete the test's
 * marker; with SSE-KMS, the key's use.
 */
export function s3PermissionsPolicy(d: Pick<DestinationDraft, 'bucket' | 'path' | 'sse' | 'kms_key_id'>): string {
  const bucket = d.bucket.trim() || 'YOUR-BUCKET'
  const statements: Record<string, unknown>[] = [
    { Sid: 'OutportCheckBucket', Effect: 'Allow', Action: ['s3:ListBucket', 's3:GetBucketLocation'], Resource: `arn:aws:s3:::${bucket}` },
    { Sid: 'OutportWriteExports', Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'], Resource: `arn:aws:s3:::${bucket}/${staticPrefix(d.path)}*` }
  ]
  if (d.sse === 'aws:kms') {
    statements.push({ Sid: 'OutportEncrypt', Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: d.kms_key_id.trim() || 'arn:aws:kms:REGION:ACCOUNT:key/KEY-ID' })
  }
  return JSON.stringify({ Version: '2012-10-17', Statement: statements }, null, 2)
}
