import { z } from 'zod'
import { storedText } from './text'

/**
 * Destinations: the user's own bucket, container or server that each export is delivered to after
 * it lands in Outport's bucket (snake_case, as the API). Credentials go in and never come back out:
 * a destination shows which kind is set and a hint.
 */

export const DESTINATION_TYPES = ['s3', 'azure_blob', 'sftp'] as const
export type DestinationType = typeof DESTINATION_TYPES[number]

export const DESTINATION_TYPE_LABELS: Record<DestinationType, string> = {
  s3: 'Amazon S3 or S3-compatible',
  azure_blob: 'Azure Blob Storage',
  sftp: 'SFTP'
}

/** How many destinations one export or schedule may deliver to. */
export const MAX_DESTINATIONS_PER_EXPORT = 3

/** What a path template may name; each is filled per run (dates are the run's completion, UTC). */
export const TEMPLATE_PLACEHOLDERS = {
  dataset: 'The dataset\'s name (e.g. transactions)',
  format: 'The export format (csv, parquet, …)',
  job_id: 'The export\'s job id',
  schedule: 'The schedule\'s name as a slug, or `manual`',
  yyyy: 'Year of completion (UTC)',
  mm: 'Month of completion, 01-12 (UTC)',
  dd: 'Day of completion, 01-31 (UTC)',
  filename: 'Outport\'s file name for the export'
} as const

export type TemplatePlaceholder = keyof typeof TEMPLATE_PLACEHOLDERS
export const TEMPLATE_PLACEHOLDER_IDS = Object.keys(TEMPLATE_PLACEHOLDERS) as TemplatePlaceholder[]

/** Where a file goes when the template is left out. A template without `{filename}` is a folder: `/{filename}` is appended. */
export const DEFAULT_PATH_TEMPLATE = '{dataset}/{yyyy}/{mm}/{dd}/{filename}'

/** The `{…}` names in a template that are not placeholders. */
export function unknownPlaceholders(template: string): string[] {
  const names = [...template.matchAll(/\{([^{}]*)\}/g)].map(m => m[1]!)
  return [...new Set(names.filter(name => !(TEMPLATE_PLACEHOLDER_IDS as string[]).includes(name)))]
}

const TEMPLATE_HELP = `Use ${TEMPLATE_PLACEHOLDER_IDS.map(p => `{${p}}`).join(', ')}`

/** A prefix/path template: unknown placeholders and stray braces are refused, naming them. */
export const PathTemplateSchema = storedText({ max: 512 }).superRefine((value, ctx) => {
  const unknown = unknownPlaceholders(value)
  if (unknown.length) {
    ctx.addIssue({ code: 'custom', message: `Unknown placeholder${unknown.length > 1 ? 's' : ''}: ${unknown.map(u => `{${u}}`).join(', ')}. ${TEMPLATE_HELP}` })
    return
  }
  if (/[{}]/.test(value.replace(/\{[^{}]*\}/g, ''))) ctx.addIssue({ code: 'custom', message: `Unbalanced { or }. ${TEMPLATE_HELP}` })
  if (value.split('/').some(part => part === '..')) ctx.addIssue({ code: 'custom', message: 'Must not contain .. segments' })
})

const url = (what: string) => storedText({ max: 2048 }).pipe(z.url({ protocol: /^https?$/, message: `Must be an http(s) URL${what}` }))

// --- S3 (and R2, MinIO, GCS through its S3 interface) ---------------------------------------

export const S3_SSE_MODES = ['AES256', 'aws:kms'] as const
export type S3SseMode = typeof S3_SSE_MODES[number]

const s3ConfigFields = {
  bucket: z.string().trim().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{1,220}[a-zA-Z0-9]$/, 'Must be a bucket name (3-222 letters, digits, dots, dashes, underscores)'),
  prefix: PathTemplateSchema.default(DEFAULT_PATH_TEMPLATE).meta({ description: `The object key template; default \`${DEFAULT_PATH_TEMPLATE}\`` }),
  region: z.string().trim().regex(/^[a-z0-9-]{1,40}$/, 'Must be a region such as eu-west-1 (or auto)').default('us-east-1'),
  endpoint: url(' (leave out for AWS)').nullish().meta({ description: 'For S3-compatible stores: R2, MinIO, GCS (`https://storage.googleapis.com`); null/absent: AWS' }),
  force_path_style: z.boolean().nullish().meta({ description: 'Path-style URLs (`endpoint/bucket/key`), as MinIO needs' }),
  sse: z.enum(S3_SSE_MODES, `Must be one of: ${S3_SSE_MODES.join(', ')}`).nullish().meta({ description: 'Server-side encryption sent on every write' }),
  kms_key_id: storedText({ max: 2048 }).min(1).nullish().meta({ description: 'The KMS key for `sse: aws:kms` (else the bucket\'s default KMS key)' })
}

const refineS3Config = (c: { sse?: S3SseMode | null, kms_key_id?: string | null }, ctx: z.RefinementCtx) => {
  if (c.kms_key_id && c.sse !== 'aws:kms') ctx.addIssue({ code: 'custom', path: ['kms_key_id'], message: 'Only with sse: aws:kms' })
}

export const S3ConfigSchema = z.strictObject(s3ConfigFields).superRefine(refineS3Config)

export const S3CredentialsSchema = z.strictObject({
  access_key_id: storedText({ max: 256 }).min(1, 'Required').optional(),
  secret_access_key: storedText({ max: 512 }).min(1, 'Required').optional(),
  role_arn: storedText({ max: 2048 }).regex(/^arn:[a-z-]+:iam::\d{12}:role\/.+$/, 'Must be an IAM role ARN (arn:aws:iam::123456789012:role/Name)').optional()
}).superRefine((c, ctx) => {
  if (c.role_arn !== undefined) {
    for (const key of ['access_key_id', 'secret_access_key'] as const) {
      if (c[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'Not with role_arn: give either role_arn or an access key pair' })
    }
    return
  }
  if (c.access_key_id === undefined) ctx.addIssue({ code: 'custom', path: ['access_key_id'], message: 'Required (or give role_arn)' })
  if (c.secret_access_key === undefined) ctx.addIssue({ code: 'custom', path: ['secret_access_key'], message: 'Required (or give role_arn)' })
}).meta({ description: '`{ access_key_id, secret_access_key }`, or `{ role_arn }` (Outport assumes the role with your ExternalId)' })

// --- Azure Blob Storage -------------------------------------------------------------------

const azureConfigFields = {
  account_url: url('').meta({ description: 'The blob service URL, e.g. `https://account.blob.core.windows.net`' }),
  container: z.string().trim().regex(/^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, 'Must be a container name (3-63 lowercase letters, digits and single dashes)'),
  prefix: PathTemplateSchema.default(DEFAULT_PATH_TEMPLATE).meta({ description: `The blob name template; default \`${DEFAULT_PATH_TEMPLATE}\`` })
}

export const AzureBlobConfigSchema = z.strictObject(azureConfigFields)

export const AzureBlobCredentialsSchema = z.strictObject({
  sas_token: storedText({ max: 4096 }).min(1, 'Required').transform(v => v.replace(/^\?/, '')).optional(),
  account_name: storedText({ max: 64 }).min(1, 'Required').optional(),
  account_key: storedText({ max: 512 }).min(1, 'Required').optional()
}).superRefine((c, ctx) => {
  if (c.sas_token !== undefined) {
    for (const key of ['account_name', 'account_key'] as const) {
      if (c[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'Not with sas_token: give either sas_token or account_name and account_key' })
    }
    return
  }
  if (c.account_name === undefined) ctx.addIssue({ code: 'custom', path: ['account_name'], message: 'Required (or give sas_token)' })
  if (c.account_key === undefined) ctx.addIssue({ code: 'custom', path: ['account_key'], message: 'Required (or give sas_token)' })
}).meta({ description: '`{ sas_token }` (with create and write permission; delete for the test\'s cleanup), or `{ account_name, account_key }`' })

// --- SFTP ---------------------------------------------------------------------------------

/** `SHA256:` and the unpadded base64 digest, as `ssh-keygen -lf` prints it. */
export const HOST_KEY_SHA256_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/

const sftpConfigFields = {
  host: z.string().trim().min(1, 'Required').max(253).regex(/^[A-Za-z0-9.:[\]-]+$/, 'Must be a host name or IP address'),
  port: z.number('Must be a port number').int('Must be a port number').min(1, 'Must be 1-65535').max(65535, 'Must be 1-65535').default(22),
  path: PathTemplateSchema.default(DEFAULT_PATH_TEMPLATE).meta({ description: `The file path template (relative to the login directory unless it starts with /); default \`${DEFAULT_PATH_TEMPLATE}\`` }),
  username: storedText({ max: 128 }).min(1, 'Required'),
  host_key_sha256: z.string().trim()
    .transform(v => v.startsWith('SHA256:') ? v : `SHA256:${v}`).pipe(z.string().regex(HOST_KEY_SHA256_PATTERN, 'Must be a SHA-256 fingerprint as ssh-keygen -lf prints it (SHA256:…)'))
    .nullish().meta({ description: 'The server\'s pinned host key fingerprint; null/absent: not pinned yet (a test reports it; deliveries fail until it is set)' })
}

export const SftpConfigSchema = z.strictObject(sftpConfigFields)

export const SftpCredentialsSchema = z.strictObject({
  private_key: z.string().max(16_384, 'At most 16384 characters').regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'Must be a private key in PEM or OpenSSH format').optional(),
  passphrase: z.string().max(1024).optional().meta({ description: 'For an encrypted private_key' }),
  password: z.string().min(1, 'Required').max(1024).optional()
}).superRefine((c, ctx) => {
  if (c.private_key !== undefined && c.password !== undefined) ctx.addIssue({ code: 'custom', path: ['password'], message: 'Give either private_key or password' })
  if (c.private_key === undefined && c.password === undefined) ctx.addIssue({ code: 'custom', path: ['private_key'], message: 'Required (or give password)' })
  if (c.passphrase !== undefined && c.private_key === undefined) ctx.addIssue({ code: 'custom', path: ['passphrase'], message: 'Only with private_key' })
}).meta({ description: '`{ private_key, passphrase? }` or `{ password }`' })

// --- Requests -----------------------------------------------------------------------------

const name = storedText({ max: 100 }).min(1, 'Enter a name')

/** POST /api/destinations (and POST /api/destinations/test, which tests without saving). */
export const CreateDestinationSchema = z.discriminatedUnion('type', [
  z.strictObject({ name, type: z.literal('s3'), config: S3ConfigSchema, credentials: S3CredentialsSchema }),
  z.strictObject({ name, type: z.literal('azure_blob'), config: AzureBlobConfigSchema, credentials: AzureBlobCredentialsSchema }),
  z.strictObject({ name, type: z.literal('sftp'), config: SftpConfigSchema, credentials: SftpCredentialsSchema })
], { error: `type must be one of: ${DESTINATION_TYPES.join(', ')}` })

export type CreateDestinationInput = z.input<typeof CreateDestinationSchema>
export type CreateDestination = z.output<typeof CreateDestinationSchema>

/**
 * PATCH /api/destinations/{id}: the type cannot change. `config` holds only the fields to change
 * (null clears an optional one), merged over the saved config and checked whole; `credentials`,
 * when given, replaces the saved ones entirely.
 */
export const UPDATE_DESTINATION_SCHEMAS = {
  s3: z.strictObject({ name: name.optional(), config: z.strictObject(s3ConfigFields).partial().optional(), credentials: S3CredentialsSchema.optional() }),
  azure_blob: z.strictObject({ name: name.optional(), config: z.strictObject(azureConfigFields).partial().optional(), credentials: AzureBlobCredentialsSchema.optional() }),
  sftp: z.strictObject({ name: name.optional(), config: z.strictObject(sftpConfigFields).partial().optional(), credentials: SftpCredentialsSchema.optional() })
} satisfies Record<DestinationType, z.ZodType>

/** The PATCH body as documented: one of the three, chosen by the saved destination's type. */
export const UpdateDestinationSchema = z.union([UPDATE_DESTINATION_SCHEMAS.s3, UPDATE_DESTINATION_SCHEMAS.azure_blob, UPDATE_DESTINATION_SCHEMAS.sftp])

export type UpdateDestinationInput = z.input<typeof UpdateDestinationSchema>

/** The whole config, checked, for each type (after a PATCH's merge). */
export const DESTINATION_CONFIG_SCHEMAS = {
  s3: S3ConfigSchema,
  azure_blob: AzureBlobConfigSchema,
  sftp: SftpConfigSchema
} satisfies Record<DestinationType, z.ZodType>

export type S3Config = z.output<typeof S3ConfigSchema>
export type AzureBlobConfig = z.output<typeof AzureBlobConfigSchema>
export type SftpConfig = z.output<typeof SftpConfigSchema>
export type S3Credentials = z.output<typeof S3CredentialsSchema>
export type AzureBlobCredentials = z.output<typeof AzureBlobCredentialsSchema>
export type SftpCredentials = z.output<typeof SftpCredentialsSchema>

/** `destination_ids` on an export or a schedule: at most three, each once. */
export const DestinationIdsSchema = z.array(z.guid('Must be a UUID')).max(MAX_DESTINATIONS_PER_EXPORT, `At most ${MAX_DESTINATIONS_PER_EXPORT} destinations`)
  .overwrite(values => [...new Set(values.map(v => v.toLowerCase()))])
  .meta({ description: `Your destinations to deliver the file to once it is written (at most ${MAX_DESTINATIONS_PER_EXPORT})` })

// --- Responses ----------------------------------------------------------------------------

const timestamp = z.iso.datetime()

export const CREDENTIAL_KINDS = {
  access_key: 'Access key',
  role_arn: 'IAM role (AssumeRole with your ExternalId)',
  sas_token: 'SAS token',
  account_key: 'Account key',
  private_key: 'Private key',
  password: 'Password'
} as const

export type CredentialKind = keyof typeof CREDENTIAL_KINDS
export const CREDENTIAL_KIND_IDS = Object.keys(CREDENTIAL_KINDS) as [CredentialKind, ...CredentialKind[]]

/** Which credentials are saved, never the secret itself. */
export const CredentialsSummarySchema = z.object({
  kind: z.enum(CREDENTIAL_KIND_IDS),
  hint: z.string().nullable().meta({ description: 'Enough to tell which: the access key id\'s last 4 (`…ABCD`), the role ARN, the account name, the SAS token\'s expiry, the key type; null for a password' })
}).meta({ id: 'DestinationCredentials' })

export type CredentialsSummaryDTO = z.infer<typeof CredentialsSummarySchema>

/**
 * Step names of a test, in order. s3: credentials, bucket, write, delete; azure_blob: credentials,
 * container, write, delete; sftp: connect, host_key, authenticate, directory, write, delete.
 * A step not reached is left out.
 */
export const DESTINATION_TEST_STEPS: Record<DestinationType, readonly string[]> = {
  s3: ['credentials', 'bucket', 'write', 'delete'],
  azure_blob: ['credentials', 'container', 'write', 'delete'],
  sftp: ['connect', 'host_key', 'authenticate', 'directory', 'write', 'delete']
}

export const DestinationTestStepSchema = z.object({
  step: z.string().meta({ description: 'credentials, bucket, container, connect, host_key, authenticate, directory, write, delete' }),
  ok: z.boolean(),
  message: z.string().meta({ description: 'What happened, in words (a passing step may carry a note, e.g. a write-only bucket)' }),
  ms: z.int().min(0)
}).meta({ id: 'DestinationTestStep' })

export type DestinationTestStepDTO = z.infer<typeof DestinationTestStepSchema>

/** POST /api/destinations/{id}/test and POST /api/destinations/test. */
export const DestinationTestResultSchema = z.object({
  ok: z.boolean().meta({ description: 'Every step passed: a delivery would work' }),
  steps: z.array(DestinationTestStepSchema),
  host_key_sha256: z.string().nullable().meta({ description: 'SFTP: the fingerprint the server presented (pin it as config.host_key_sha256; a test never saves it); null for other types or when unreachable' }),
  tested_at: timestamp
}).meta({ id: 'DestinationTestResult' })

export type DestinationTestResultDTO = z.infer<typeof DestinationTestResultSchema>

const destinationBase = {
  id: z.guid(),
  name: z.string(),
  credentials: CredentialsSummarySchema,
  last_test: DestinationTestResultSchema.nullable().meta({ description: 'The last test of the saved destination; null: never tested, or changed since' }),
  created_at: timestamp,
  updated_at: timestamp
}

export const S3ConfigDTOSchema = z.object({
  bucket: z.string(),
  prefix: z.string(),
  region: z.string(),
  endpoint: z.string().nullable(),
  force_path_style: z.boolean(),
  sse: z.enum(S3_SSE_MODES).nullable(),
  kms_key_id: z.string().nullable()
}).meta({ id: 'S3DestinationConfig' })

export const AzureBlobConfigDTOSchema = z.object({
  account_url: z.string(),
  container: z.string(),
  prefix: z.string()
}).meta({ id: 'AzureBlobDestinationConfig' })

export const SftpConfigDTOSchema = z.object({
  host: z.string(),
  port: z.int(),
  path: z.string(),
  username: z.string(),
  host_key_sha256: z.string().nullable()
}).meta({ id: 'SftpDestinationConfig' })

/** A destination as the API answers it: never its credentials. */
export const DestinationSchema = z.discriminatedUnion('type', [
  z.object({ ...destinationBase, type: z.literal('s3'), config: S3ConfigDTOSchema }),
  z.object({ ...destinationBase, type: z.literal('azure_blob'), config: AzureBlobConfigDTOSchema }),
  z.object({ ...destinationBase, type: z.literal('sftp'), config: SftpConfigDTOSchema })
]).meta({ id: 'Destination' })

export type DestinationDTO = z.infer<typeof DestinationSchema>

/** GET /api/destinations: the caller's destinations, oldest first. */
export const DestinationListSchema = z.object({
  destinations: z.array(DestinationSchema),
  max_per_user: z.int().meta({ description: 'DESTINATIONS_MAX_PER_USER: adding one more answers 409' })
})

/** GET /api/destinations/external-id: what an IAM role's trust policy needs for `role_arn`. */
export const DestinationExternalIdSchema = z.object({
  external_id: z.string().meta({ description: 'Yours alone, stable: put it in the role\'s trust policy as sts:ExternalId' }),
  principal_arn: z.string().nullable().meta({ description: 'The AWS identity Outport calls AssumeRole as (DESTINATIONS_AWS_PRINCIPAL_ARN); null when the server does not say' }),
  trust_policy: z.string().meta({ description: 'A trust policy to paste into the role (JSON text)' })
}).meta({ id: 'DestinationExternalId' })

export type DestinationExternalIdDTO = z.infer<typeof DestinationExternalIdSchema>

// --- Deliveries (on the export job) -------------------------------------------------------

export const DELIVERY_STATUSES = ['pending', 'delivering', 'delivered', 'failed'] as const
export type DeliveryStatus = typeof DELIVERY_STATUSES[number]

export const ExportDeliverySchema = z.object({
  destination_id: z.guid().nullable().meta({ description: 'Null once the destination was deleted' }),
  name: z.string().meta({ description: 'The destination\'s name when the delivery was made' }),
  type: z.enum(DESTINATION_TYPES),
  status: z.enum(DELIVERY_STATUSES).meta({ description: 'pending: waiting, or between retries; failed: given up after DESTINATION_MAX_ATTEMPTS (the file stays downloadable)' }),
  attempts: z.int().min(0),
  location: z.string().nullable().meta({ description: '`s3://bucket/key`, `https://account.blob.core.windows.net/container/blob` or `sftp://host/path`' }),
  error: z.string().nullable().meta({ description: 'Why the last attempt failed' }),
  delivered_at: timestamp.nullable(),
  next_attempt_at: timestamp.nullable().meta({ description: 'When the next attempt is due, while pending' })
}).meta({ id: 'ExportDelivery' })

export type ExportDeliveryDTO = z.infer<typeof ExportDeliverySchema>
