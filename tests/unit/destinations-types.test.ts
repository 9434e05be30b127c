import { describe, expect, it } from 'vitest'
import { CreateDestinationSchema, unknownPlaceholders, UPDATE_DESTINATION_SCHEMAS } from '#shared/types/destinations'

describe('destination requests', () => {
  it('names unknown placeholders and stray braces in a template', () => {
    expect(unknownPlaceholders('{dataset}/{foo}/{yyyy}/{bar}/{foo}')).toEqual(['foo', 'bar'])
    const result = CreateDestinationSchema.safeParse({ name: 'x', type: 's3', config: { bucket: 'abc', prefix: '{dataset}/{nope}' }, credentials: { access_key_id: 'a', secret_access_key: 'b' } })
    expect(result.success).toBe(false)
    expect(result.error!.issues[0]!.path).toEqual(['config', 'prefix'])
    expect(result.error!.issues[0]!.message).toContain('{nope}')
    const stray = CreateDestinationSchema.safeParse({ name: 'x', type: 'sftp', config: { host: 'h', username: 'u', path: 'a/{dataset' }, credentials: { password: 'p' } })
    expect(stray.error!.issues[0]!.message).toContain('Unbalanced')
  })

  it('fills defaults and normalises a bare fingerprint', () => {
    const parsed = CreateDestinationSchema.parse({ name: 'x', type: 'sftp', config: { host: 'h', username: 'u', host_key_sha256: 'A'.repeat(43) }, credentials: { password: 'p' } })
    expect(parsed.config).toMatchObject({ port: 22, path: '{dataset}/{yyyy}/{mm}/{dd}/{filename}', host_key_sha256: `SHA256:${'A'.repeat(43)}` })
  })

  it('wants exactly one kind of credentials', () => {
    const both = CreateDestinationSchema.safeParse({ name: 'x', type: 's3', config: { bucket: 'abc' }, credentials: { access_key_id: 'a', secret_access_key: 'b', role_arn: 'arn:aws:iam::123456789012:role/r' } })
    expect(both.error!.issues.map(i => i.path.join('.'))).toEqual(['credentials.access_key_id', 'credentials.secret_access_key'])
    const none = CreateDestinationSchema.safeParse({ name: 'x', type: 'azure_blob', config: { account_url: 'https://a.blob.core.windows.net', container: 'abc' }, credentials: {} })
    expect(none.error!.issues.map(i => i.path.join('.'))).toEqual(['credentials.account_name', 'credentials.account_key'])
    expect(UPDATE_DESTINATION_SCHEMAS.s3.safeParse({ config: { kms_key_id: 'k' } }).success).toBe(true)
  })
})
