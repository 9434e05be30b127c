import { describe, expect, it } from 'vitest'
import { requireScope } from '#server/lib/auth/tokens'
import { RequestError } from '#server/lib/validation'
import { CreateApiTokenSchema, DEFAULT_TOKEN_SCOPES, TOKEN_SCOPE_IDS } from '#shared/types/tokens'

describe('API token scopes', () => {
  it('are the five the API names, the default leaving out the channel and destination scopes', () => {
    expect(TOKEN_SCOPE_IDS).toEqual(['exports:read', 'exports:write', 'schedules:write', 'webhooks:write', 'destinations:write'])
    expect(DEFAULT_TOKEN_SCOPES).toEqual(['exports:read', 'exports:write', 'schedules:write'])
  })

  it('a token without the scope a route needs is refused 403, naming the scope; a session (null) never is', () => {
    expect(() => requireScope(['exports:read', 'webhooks:write'], 'webhooks:write')).not.toThrow()
    expect(() => requireScope(null, 'webhooks:write')).not.toThrow()
    let refusal: unknown
    try {
      requireScope(DEFAULT_TOKEN_SCOPES, 'webhooks:write')
    } catch (error) {
      refusal = error
    }
    expect(refusal).toBeInstanceOf(RequestError)
    expect(refusal).toMatchObject({ statusCode: 403, message: expect.stringContaining('webhooks:write'), options: { data: { required_scope: 'webhooks:write' } } })
    expect(() => requireScope([], 'exports:read')).toThrow(/exports:read/)
  })

  it('creating a token takes no scopes (createApiToken() then gives the defaults) or any non-empty set of known ones, deduplicated in order', () => {
    expect(CreateApiTokenSchema.parse({ name: 'ci' })).not.toHaveProperty('scopes')
    expect(CreateApiTokenSchema.parse({ name: 'ci', scopes: ['webhooks:write', 'exports:read', 'webhooks:write'] }).scopes).toEqual(['exports:read', 'webhooks:write'])
    for (const scopes of [[], ['admin'], 'exports:read', [null]]) {
      expect(CreateApiTokenSchema.safeParse({ name: 'ci', scopes }).success, JSON.stringify(scopes)).toBe(false)
    }
  })
})
