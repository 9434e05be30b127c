import { describe, expect, it } from 'vitest'
import { DATASETS } from '#server/lib/warehouse/datasets'
import type { DatasetDTO } from '#shared/types/datasets'
import { describeWatermark, fromDraft, newDraft, requestBody, requestState, toDraft, zonedMidnight } from '../../../app/utils/schedules'

describe('the schedule form\'s draft', () => {
  it('round-trips "only new rows since the last run" and minute cadences', () => {
    const incremental = { name: null, range: { type: 'since_last_run' as const, initial: { start_date: '2026-10-01' } }, cadence: { frequency: 'minutes' as const, every: 10 as const, time_zone: 'Europe/London' } }
    const draft = toDraft(incremental)
    expect(draft).toMatchObject({ range: 'since_last_run', initialStartDate: '2026-10-01', frequency: 'minutes', every: 10 })
    expect(fromDraft(draft)).toMatchObject({ range: incremental.range, cadence: incremental.cadence })
    expect(fromDraft({ ...newDraft(), range: 'since_last_run', initialStartDate: '' }).range).toEqual({ type: 'since_last_run', initial: 'all' })
  })
  it('says the watermark in words, in the reader\'s zone', () => {
    expect(describeWatermark('2026-12-06T14:05:59.123456Z', 'Europe/London')).toBe('exported up to 6 Dec 14:05')
    expect(describeWatermark('2026-07-06T14:05:00Z', 'Europe/London')).toBe('exported up to 6 Jul 15:05')
  })
  it('finds local midnight in a zone, on daylight saving days too', () => {
    expect(zonedMidnight('2026-12-06', 'Europe/London').toISOString()).toBe('2026-12-06T00:00:00.000Z')
    expect(zonedMidnight('2026-07-06', 'Europe/London').toISOString()).toBe('2026-07-05T23:00:00.000Z')
    expect(zonedMidnight('2026-03-08', 'America/New_York').toISOString()).toBe('2026-03-08T05:00:00.000Z')
    expect(zonedMidnight('2026-03-09', 'America/New_York').toISOString()).toBe('2026-03-09T04:00:00.000Z')
  })
})

describe('the saved request in the schedule form', () => {
  const dataset = { ...DATASETS[0]!, columns: DATASETS[0]!.columns.map(c => ({ name: c.name, type: c.type, description: '' })) } as unknown as DatasetDTO
  const all = dataset.columns.map(c => c.name)
  it('fills the data fields from it, conditions with their values as typed', () => {
    const state = requestState({ dataset_id: dataset.id, format: 'parquet', columns: all.slice(0, 2), row_filters: [{ column: 'amount', op: 'between', value: [-5, 5] }, { column: 'merchant', op: 'is_null' }] }, dataset)
    expect(state).toMatchObject({ columns: all.slice(0, 2), account_ids: [], tag_ids: [] })
    // Negative keys: the conditions field numbers the ones it adds from 0.
    expect(state.conditions).toMatchObject([{ column: 'amount', op: 'between', values: ['-5', '5'] }, { column: 'merchant', op: 'is_null', values: [] }])
    expect(state.conditions.every(c => c.key < 0) && state.conditions[0]!.key !== state.conditions[1]!.key).toBe(true)
    expect(requestState({ dataset_id: dataset.id, format: 'csv' }, dataset).columns).toEqual(all)
  })
  it('saves without dates; a field back at its default is cleared (null) only where the saved request had it', () => {
    const request = { dataset_id: dataset.id, format: 'csv' as const, start_date: '2026-01-01', account_ids: ['a'] }
    expect(requestBody(request)).toEqual({ dataset_id: dataset.id, format: 'csv', account_ids: ['a'] })
    expect(requestBody(request, { dataset_id: dataset.id, format: 'json', columns: all.slice(0, 1), compression: 'gzip', limit: null }))
      .toEqual({ dataset_id: dataset.id, format: 'csv', account_ids: ['a'], columns: null, compression: null })
  })
})
