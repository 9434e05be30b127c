import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DATASETS, findDataset } from '#server/lib/warehouse/datasets'
import { queryRows } from '#server/lib/warehouse/duckdb'
import { buildDatasetQuery, outputColumns } from '#server/lib/warehouse/query'
import { BASE_TABLES } from '#server/lib/warehouse/schema'
import { openTinyWarehouse, TAG_RENT, USER_A, type TinyWarehouse } from './fixture'

let wh: TinyWarehouse

beforeAll(async () => {
  wh = await openTinyWarehouse()
})

afterAll(async () => {
  await wh?.close()
})

describe('dataset manifest', () => {
  it('has the three datasets with stable, unique, lowercase UUID ids', () => {
    expect(DATASETS.map(d => [d.name, d.title, d.time_grain])).toEqual([
      ['fct_transactions', 'Transactions', 'daily'],
      ['fct_daily_spending_by_tag', 'Daily Spending by Tag', 'daily'],
      ['fct_monthly_trends', 'Monthly Trends', 'monthly']
    ])
    expect(DATASETS.map(d => d.id)).toEqual([
      '054f17bf-1dbb-43ed-98c3-b4858093d7fc',
      '8f1fab1c-e78a-4dd5-8345-488665a81279',
      'f586dc33-1f30-43db-9a15-48d593239fae'
    ])
  })

  it('findDataset finds by id, case-insensitively, and nothing else', () => {
    expect(findDataset('054F17BF-1DBB-43ED-98C3-B4858093D7FC')?.name).toBe('fct_transactions')
    expect(findDataset('fct_transactions')).toBeUndefined()
    expect(findDataset('')).toBeUndefined()
  })

  it('is frozen', () => {
    expect(Object.isFrozen(DATASETS)).toBe(true)
    for (const d of DATASETS) {
      expect(Object.isFrozen(d)).toBe(true)
      expect(Object.isFrozen(d.columns)).toBe(true)
    }
  })

  it('dataset SQL never names a base table qualified (which would escape the user scope)', () => {
    for (const d of DATASETS) {
      for (const table of BASE_TABLES) {
        expect(d.sql, d.name).not.toMatch(new RegExp(`\\.\\s*"?${table}\\b`, 'i'))
      }
      expect(d.sql, d.name).not.toMatch(/\b(main|memory|system|temp|information_schema|pg_catalog)\s*\./i)
      expect(d.sql, d.name).not.toMatch(/\b(read_\w+|duckdb_\w+|pragma_\w+|glob|attach)\s*\(/i)
      expect(d.sql.trim().endsWith(';'), d.name).toBe(false)
    }
  })
})

describe('output columns match the manifest', () => {
  for (const dataset of DATASETS) {
    it(dataset.name, async () => {
      for (const filters of [undefined, { start_date: '2024-01-01', end_date: '2024-12-31', tag_ids: [TAG_RENT] }]) {
        // The manifest's types are the dataset SQL's own; what is written has identifiers as text.
        const sql = buildDatasetQuery(dataset, USER_A, filters)
        const source = await queryRows<{ column_name: string, column_type: string }>(wh.connection, `DESCRIBE ${sql.replace(/^SELECT .* FROM \(/m, 'SELECT * FROM (')}`)
        expect(source.map(r => ({ name: r.column_name, type: r.column_type }))).toEqual(dataset.columns.map(c => ({ name: c.name, type: c.type })))
        for (const options of [{}, { listsAsJson: true, guardFormulas: true }]) {
          const written = await queryRows<{ column_name: string, column_type: string }>(wh.connection, `DESCRIBE ${buildDatasetQuery(dataset, USER_A, filters, options)}`)
          expect(written.map(r => ({ name: r.column_name, type: r.column_type }))).toEqual(outputColumns(dataset, options))
          expect(written.map(r => r.column_type).filter(t => t.includes('UUID'))).toEqual([])
        }
      }
      // And the rows themselves carry exactly these keys, in order.
      const [first] = await queryRows(wh.connection, buildDatasetQuery(dataset, USER_A))
      expect(Object.keys(first!)).toEqual(dataset.columns.map(c => c.name))
      for (const c of dataset.columns) expect(c.description.length, c.name).toBeGreaterThan(0)
    })
  }
})
