import { describe, expect, it } from 'vitest'
import { ListExportsQuerySchema } from '#shared/types/exports'
import { CreateApiTokenSchema } from '#shared/types/tokens'

const fields = (input: unknown) => {
  const result = ListExportsQuerySchema.safeParse(input)
  return result.success ? [] : result.error.issues.map(i => i.path.join('.'))
}

describe('ListExportsQuerySchema', () => {
  it('parses every filter', () => {
    expect(ListExportsQuerySchema.parse({
      status: 'completed, failed,completed',
      source: 'api,schedule',
      dataset_id: '0B1C5E8A-0000-4000-8000-000000000001',
      created_after: '2026-12-01T00:00:00Z',
      created_before: '2026-12-02T00:00:00+01:00',
      limit: '5'
    })).toEqual({
      status: ['completed', 'failed'],
      source: ['api', 'schedule'],
      dataset_id: '0b1c5e8a-0000-4000-8000-000000000001',
      created_after: new Date('2026-12-01T00:00:00Z'),
      created_before: new Date('2026-12-01T23:00:00Z'),
      limit: 5
    })
    expect(ListExportsQuerySchema.parse({})).toEqual({ limit: 20 })
  })

  it('names the field of each malformed filter', () => {
    expect(fields({ status: 'completed,bogus' })).toEqual(['status'])
    expect(fields({ status: ',' })).toEqual(['status'])
    expect(fields({ source: 'manual,robot' })).toEqual(['source'])
    expect(fields({ source: '' })).toEqual(['source'])
    expect(fields({ dataset_id: 'x' })).toEqual(['dataset_id'])
    expect(fields({ created_after: '2026-12-01' })).toEqual(['created_after'])
    expect(fields({ created_before: 'tomorrow' })).toEqual(['created_before'])
    expect(fields({ created_after: '2026-12-02T00:00:00Z', created_before: '2026-12-01T00:00:00Z' })).toEqual(['created_before'])
    expect(fields({ schedule: 'x' })).toEqual([''])
  })
})

describe('CreateApiTokenSchema', () => {
  it('takes a name and an optional expiry of 1-365 whole days', () => {
    expect(CreateApiTokenSchema.parse({ name: ' ci ' })).toEqual({ name: 'ci' })
    expect(CreateApiTokenSchema.parse({ name: 'ci', expires_in_days: 365 })).toEqual({ name: 'ci', expires_in_days: 365 })
    for (const bad of [{}, { name: '  ' }, { name: 'x', expires_in_days: 0 }, { name: 'x', expires_in_days: 366 }, { name: 'x', expires_in_days: 2.5 }, { name: 'x', expires_in_days: '7' }]) {
      expect(CreateApiTokenSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false)
    }
  })
})
