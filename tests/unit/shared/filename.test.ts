import { describe, expect, it } from 'vitest'
import { exportFilename } from '../../../shared/utils/filename'

describe('exportFilename', () => {
  it('is <dataset>_<start>_<end>.<format>', () => {
    expect(exportFilename({ dataset_name: 'fct_transactions', format: 'csv', filters: { start_date: '2025-01-01', end_date: '2025-06-30' } }))
      .toBe('fct_transactions_2025-01-01_2025-06-30.csv')
  })

  it('names open ends earliest and latest', () => {
    expect(exportFilename({ dataset_name: 'fct_transactions', format: 'csv', filters: { start_date: '2025-01-01', end_date: null } }))
      .toBe('fct_transactions_2025-01-01_latest.csv')
    expect(exportFilename({ dataset_name: 'monthly_trends', format: 'parquet', filters: { start_date: null, end_date: '2025-12-31' } }))
      .toBe('monthly_trends_earliest_2025-12-31.parquet')
    expect(exportFilename({ dataset_name: 'daily_spending_by_tag', format: 'parquet', filters: { start_date: null, end_date: null } }))
      .toBe('daily_spending_by_tag_earliest_latest.parquet')
  })
})
