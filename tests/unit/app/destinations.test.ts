import { describe, expect, it } from 'vitest'
import { CreateDestinationSchema, DEFAULT_PATH_TEMPLATE, type DestinationDTO } from '#shared/types/destinations'
import { createDestinationBody, destinationDraftField, newDestinationDraft, s3PermissionsPolicy, toDestinationDraft, updateDestinationBody } from '../../../app/utils/destinations'

const SAVED: DestinationDTO = {
  id: '8d7f7d1e-2f7c-4b43-9b0e-3f8e2a6c1d11',
  name: 'Lake',
  type: 's3',
  config: { bucket: 'lake', prefix: 'exports/{dataset}/{filename}', region: 'eu-west-1', endpoint: null, force_path_style: false, sse: 'aws:kms', kms_key_id: 'arn:aws:kms:eu-west-1:123456789012:key/k' },
  credentials: { kind: 'access_key', hint: '…ABCD' },
  last_test: null,
  created_at: '2026-12-07T00:00:00.000Z',
  updated_at: '2026-12-07T00:00:00.000Z'
}

describe('the destination form', () => {
  it('sends what the API takes for each kind: the default template when left empty, S3-compatible with its endpoint', () => {
    const compatible = { ...newDestinationDraft('s3_compatible'), name: ' R2 ', bucket: 'lake', endpoint: 'https://acct.r2.cloudflarestorage.com', access_key_id: 'AK', secret_access_key: 'SK' }
    const body = createDestinationBody(compatible)
    expect(body).toEqual({ name: 'R2', type: 's3', config: { bucket: 'lake', prefix: DEFAULT_PATH_TEMPLATE, region: 'auto', endpoint: 'https://acct.r2.cloudflarestorage.com', force_path_style: false, sse: null, kms_key_id: null }, credentials: { access_key_id: 'AK', secret_access_key: 'SK' } })
    expect(CreateDestinationSchema.safeParse(body).success).toBe(true)

    // A role is for AWS itself: the same choice on an S3-compatible store still sends keys.
    expect(createDestinationBody({ ...compatible, s3_auth: 'role_arn', role_arn: 'arn:aws:iam::123456789012:role/r' }).credentials).toEqual({ access_key_id: 'AK', secret_access_key: 'SK' })
    expect(createDestinationBody({ ...newDestinationDraft('s3'), s3_auth: 'role_arn', role_arn: 'arn:aws:iam::123456789012:role/r' }).credentials).toEqual({ role_arn: 'arn:aws:iam::123456789012:role/r' })

    const sftp = createDestinationBody({ ...newDestinationDraft('sftp'), name: 'v', host: 'h', username: 'u', sftp_auth: 'password', password: 'p' })
    expect(sftp.config).toMatchObject({ port: 22, host_key_sha256: null })
    expect(CreateDestinationSchema.safeParse(sftp).success).toBe(true)
    // An empty secret is named on its own field by the API's schema (which the form checks with too).
    const missing = CreateDestinationSchema.safeParse(createDestinationBody({ ...newDestinationDraft('azure_blob'), name: 'a', account_url: 'https://a.blob.core.windows.net', container: 'abc' }))
    expect(missing.error!.issues.map(i => destinationDraftField(i.path.join('.')))).toEqual(['sas_token'])
  })

  it('edits keep the saved credentials unless something is typed or their kind changes', () => {
    const draft = toDestinationDraft(SAVED)
    expect(draft).toMatchObject({ kind: 's3', path: 'exports/{dataset}/{filename}', sse: 'aws:kms', s3_auth: 'access_key', secret_access_key: '' })
    expect(updateDestinationBody({ ...draft, name: 'Lake 2' }, SAVED)).toEqual({ name: 'Lake 2', config: createDestinationBody(draft).config })
    expect(updateDestinationBody({ ...draft, secret_access_key: 'new' }, SAVED)).toHaveProperty('credentials', { access_key_id: '', secret_access_key: 'new' })
    const role = updateDestinationBody({ ...draft, s3_auth: 'role_arn' }, SAVED)
    expect(role).toHaveProperty('credentials', { role_arn: '' })
    expect(CreateDestinationSchema.safeParse({ ...createDestinationBody({ ...draft, s3_auth: 'role_arn' }) }).error!.issues.map(i => destinationDraftField(i.path.join('.')))).toEqual(['role_arn'])
  })

  it('names the form field an API error is about', () => {
    expect(destinationDraftField('config.prefix')).toBe('path')
    expect(destinationDraftField('config.path')).toBe('path')
    expect(destinationDraftField('credentials.secret_access_key')).toBe('secret_access_key')
    expect(destinationDraftField('name')).toBe('name')
  })

  it('writes a permissions policy for the bucket and the template\'s fixed prefix, with the KMS key when encrypting with one', () => {
    const policy = JSON.parse(s3PermissionsPolicy({ bucket: 'lake', path: 'exports/{dataset}/{filename}', sse: 'aws:kms', kms_key_id: 'arn:k' })) as { Statement: { Action: string[], Resource: string }[] }
    expect(policy.Statement.map(s => s.Resource)).toEqual(['arn:aws:s3:::lake', 'arn:aws:s3:::lake/exports/*', 'arn:k'])
    expect(policy.Statement[1]!.Action).toContain('s3:PutObject')
    const plain = JSON.parse(s3PermissionsPolicy({ bucket: '', path: '', sse: 'none', kms_key_id: '' })) as { Statement: { Resource: string }[] }
    expect(plain.Statement.map(s => s.Resource)).toEqual(['arn:aws:s3:::YOUR-BUCKET', 'arn:aws:s3:::YOUR-BUCKET/*'])
  })
})
