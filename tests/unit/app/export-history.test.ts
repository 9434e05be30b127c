import { describe, expect, it } from 'vitest'
import { CreateExportSchema, type ExportJobDTO } from '#shared/types/exports'
import { exportRequestOf } from '#shared/utils/exportRequest'
import { historyApiQuery, historyFiltersFromQuery, historyQuery } from '../../../app/utils/exportHistory'

describe('the export history\'s URL', () => {
  it('reads the filters it writes, and leaves out what it does not know', () => {
    const query = { dataset_id: 'd1', status: 'failed,completed', source: 'schedule', schedule_id: 's1', created: '7d' }
    const filters = historyFiltersFromQuery(query)
    expect(filters).toEqual({ dataset_id: 'd1', status: ['failed', 'completed'], source: 'schedule', schedule_id: 's1', created: '7d' })
    expect(historyQuery(filters)).toEqual(query)
    expect(historyFiltersFromQuery({ status: 'failed,bogus', source: 'robot', created: '1y' })).toEqual({ dataset_id: undefined, status: ['failed'], source: undefined, schedule_id: undefined, created: undefined })
    expect(historyQuery({ status: [] })).toEqual({})
  })

  it('asks the API for exports created since the start of the range, to the minute', () => {
    const now = Date.parse('2026-12-07T12:34:56Z')
    expect(historyApiQuery({ status: ['failed'], source: 'api', created: '24h' }, now)).toEqual({
      dataset_id: undefined, status: 'failed', source: 'api', schedule_id: undefined, created_after: '2026-12-06T12:34:00.000Z'
    })
  })
})

describe('exportRequestOf', () => {
  it('sends an export again as it was asked for, destinations included', () => {
    const job = {
      dataset_id: '0b1c5e8a-0000-4000-8000-000000000001', format: 'csv',
      filters: { start_date: '2026-01-01', end_date: null, account_ids: [], tag_ids: [], row_filters: [{ column: 'amount', op: 'lt', value: 0 }] },
      compression: 'gzip', parquet_compression: null, columns: ['amount'], limit: 10, max_part_mb: null, max_part_rows: 10_000,
      csv: { delimiter: ';', header: true, bom: false, formula_guard: true },
      deliveries: [{ destination_id: 'a7b8c9d0-e1f2-4a3b-8c4d-5e6f7a8b9c0d' }, { destination_id: null }]
    } as unknown as ExportJobDTO
    const request = exportRequestOf(job)
    expect(CreateExportSchema.safeParse(request).success).toBe(true)
    expect(request).toMatchObject({ start_date: '2026-01-01', end_date: null, compression: 'gzip', csv: { delimiter: ';' }, max_part_rows: 10_000, destination_ids: ['a7b8c9d0-e1f2-4a3b-8c4d-5e6f7a8b9c0d'] })
  })
})
