import { describe, expect, it } from 'vitest'
import { exportFilename, exportManifestFilename, exportPartFilename, exportZipFilename } from '#shared/utils/filename'

describe('exportFilename', () => {
  it('is <dataset>_<start>_to_<end>.<ext> for a range', () => {
    expect(exportFilename({ dataset_name: 'fct_transactions', format: 'csv', filters: { start_date: '2025-01-01', end_date: '2025-06-30' } }))
      .toBe('fct_transactions_2025-01-01_to_2025-06-30.csv')
  })

  it('is <dataset>_all_dates without one, never earliest_latest', () => {
    expect(exportFilename({ dataset_name: 'daily_spending_by_tag', format: 'parquet', filters: { start_date: null, end_date: null } }))
      .toBe('daily_spending_by_tag_all_dates.parquet')
  })

  it('names a range open at one end from or until its date', () => {
    expect(exportFilename({ dataset_name: 'fct_transactions', format: 'csv', filters: { start_date: '2025-01-01', end_date: null } }))
      .toBe('fct_transactions_from_2025-01-01.csv')
    expect(exportFilename({ dataset_name: 'monthly_trends', format: 'parquet', filters: { start_date: null, end_date: '2025-12-31' } }))
      .toBe('monthly_trends_until_2025-12-31.parquet')
  })

  it('carries the format\'s extension and the compression\'s suffix', () => {
    const filters = { start_date: '2025-01-01', end_date: '2025-01-31' }
    expect(exportFilename({ dataset_name: 'd', format: 'csv', compression: 'gzip', filters })).toBe('d_2025-01-01_to_2025-01-31.csv.gz')
    expect(exportFilename({ dataset_name: 'd', format: 'jsonl', compression: 'zstd', filters })).toBe('d_2025-01-01_to_2025-01-31.jsonl.zst')
    expect(exportFilename({ dataset_name: 'd', format: 'json', compression: 'none', filters })).toBe('d_2025-01-01_to_2025-01-31.json')
    expect(exportFilename({ dataset_name: 'd', format: 'xlsx', filters })).toBe('d_2025-01-01_to_2025-01-31.xlsx')
  })
})

describe('a multi-part export\'s names', () => {
  const metadata = { dataset_name: 'd', format: 'csv', compression: 'gzip', filters: { start_date: '2025-01-01', end_date: '2025-01-31' } } as const
  it('numbers parts from 1 with four digits, more only past 9,999', () => {
    expect(exportPartFilename(metadata, 1)).toBe('d_2025-01-01_to_2025-01-31_part-0001.csv.gz')
    expect(exportPartFilename(metadata, 9999)).toBe('d_2025-01-01_to_2025-01-31_part-9999.csv.gz')
    expect(exportPartFilename(metadata, 10_000)).toBe('d_2025-01-01_to_2025-01-31_part-10000.csv.gz')
  })
  it('names the manifest and the ZIP after the same stem', () => {
    expect(exportManifestFilename(metadata)).toBe('d_2025-01-01_to_2025-01-31_manifest.json')
    expect(exportZipFilename({ ...metadata, filters: { start_date: null, end_date: null } })).toBe('d_all_dates.zip')
  })
})
