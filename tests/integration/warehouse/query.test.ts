import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DATASETS, findDataset, type Dataset } from '#server/lib/warehouse/datasets'
import { openWarehouse, queryRows } from '#server/lib/warehouse/duckdb'
import { createBaseTables } from '#server/lib/warehouse/schema'
import { buildCountQuery, buildDatasetQuery, queryParams, QueryBuilderError, tableSlice, type DatasetFilters } from '#server/lib/warehouse/query'
import type { RowFilter } from '#shared/types/row-filters'
import {
  ACC_A1, ACC_A2, ACC_B1, openTinyWarehouse, TAG_B, TAG_GROCERIES, TAG_RENT, TAG_SALARY,
  tempDir, txA, txB, USER_A, USER_B, type TinyWarehouse
} from './fixture'

const TX = findDataset('054f17bf-1dbb-43ed-98c3-b4858093d7fc')!
const DAILY = findDataset('8f1fab1c-e78a-4dd5-8345-488665a81279')!
const MONTHLY = findDataset('f586dc33-1f30-43db-9a15-48d593239fae')!

let wh: TinyWarehouse

beforeAll(async () => {
  wh = await openTinyWarehouse()
})

afterAll(async () => {
  await wh?.close()
})

function run(dataset: Dataset, userId: string, filters?: DatasetFilters) {
  return queryRows<Record<string, unknown>>(wh.connection, buildDatasetQuery(dataset, userId, filters))
}

async function txIds(userId: string, filters?: DatasetFilters) {
  return (await run(TX, userId, filters)).map(r => r.transaction_id)
}

function expectFieldError(fn: () => unknown, field: string) {
  let error: unknown
  try {
    fn()
  } catch (e) {
    error = e
  }
  expect(error, `expected a QueryBuilderError on ${field}`).toBeInstanceOf(QueryBuilderError)
  expect((error as QueryBuilderError).field).toBe(field)
}

describe('dataset results on the hand-made warehouse', () => {
  it('fct_transactions: every column of user A\'s rows, in date then id order', async () => {
    const rows = await run(TX, USER_A)
    expect(rows.map(r => r.transaction_id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map(txA))
    expect(rows[1]).toEqual({
      transaction_id: txA(2),
      transaction_date: '2024-01-01',
      account_id: ACC_A1,
      account_name: 'Current',
      amount: '-5.50',
      currency: 'GBP',
      merchant: 'Müller, Ltd',
      description: null,
      tag_ids: [TAG_GROCERIES, TAG_RENT],
      tags: ['Groceries', 'Rent']
    })
    // Names follow the order of tag_ids, not the tags table.
    expect(rows[4]).toMatchObject({ account_name: 'Joint "House"', tag_ids: [TAG_RENT, TAG_GROCERIES], tags: ['Rent', 'Groceries'] })
    expect(rows[3]).toMatchObject({ tag_ids: [], tags: [] })
    expect(rows[8]).toMatchObject({ tags: ['Groceries', 'Groceries'] })
    // B's tag id on A's transaction resolves to nothing, never to B's tag name.
    expect(rows[10]).toMatchObject({ tag_ids: [TAG_B], tags: [null] })
    expect(rows.map(r => r.amount)).toEqual(['-10.00', '-5.50', '100.00', '-20.25', '-3.75', '2000.00', '-7.00', '-100.00', '-1.25', '50.00', '-0.01', '-30.00'])
  })

  it('fct_transactions: user B sees only B\'s rows and names', async () => {
    const rows = await run(TX, USER_B)
    expect(rows.map(r => r.transaction_id)).toEqual([txB(1), txB(2), txB(3)])
    expect(rows.map(r => r.account_name)).toEqual(['B secret account', 'B secret account', 'B secret account'])
    expect(rows[0]!.tags).toEqual(['B secret tag'])
  })

  it('fct_daily_spending_by_tag: hand-computed totals for user A', async () => {
    const rows = await run(DAILY, USER_A)
    expect(rows.map(r => [r.date, r.tag_name, r.spending, r.transaction_count])).toEqual([
      ['2024-01-01', 'Groceries', '15.50', '2'],
      ['2024-01-01', 'Rent', '5.50', '1'],
      ['2024-01-01', 'Salary', '0.00', '1'],
      ['2024-01-31', 'Groceries', '3.75', '1'],
      ['2024-01-31', 'Rent', '3.75', '1'],
      ['2024-02-01', 'Groceries', '7.00', '1'],
      ['2024-02-01', 'Salary', '0.00', '1'],
      ['2024-02-29', 'Rent', '100.00', '1'],
      ['2024-03-01', 'Groceries', '1.25', '2'],
      ['2024-03-31', 'Groceries', '30.00', '1'],
      ['2024-03-31', 'Salary', '30.00', '1']
    ])
    expect(rows[0]!.tag_id).toBe(TAG_GROCERIES)
    expect(rows.map(r => r.tag_id)).not.toContain(TAG_B)
  })

  it('fct_daily_spending_by_tag: user B', async () => {
    const rows = await run(DAILY, USER_B)
    expect(rows.map(r => [r.date, r.tag_id, r.tag_name, r.spending, r.transaction_count])).toEqual([
      ['2024-01-01', TAG_B, 'B secret tag', '999.00', '1'],
      ['2024-02-01', TAG_B, 'B secret tag', '0.00', '1']
    ])
  })

  it('fct_monthly_trends: hand-computed totals for user A and user B', async () => {
    expect(await run(MONTHLY, USER_A)).toEqual([
      { month: '2024-01-01', income: '100.00', spending: '39.50', net: '60.50', transaction_count: '5' },
      { month: '2024-02-01', income: '2000.00', spending: '107.00', net: '1893.00', transaction_count: '3' },
      { month: '2024-03-01', income: '50.00', spending: '31.26', net: '18.74', transaction_count: '4' }
    ])
    expect(await run(MONTHLY, USER_B)).toEqual([
      { month: '2024-01-01', income: '0.00', spending: '999.00', net: '-999.00', transaction_count: '1' },
      { month: '2024-02-01', income: '5000.00', spending: '0.00', net: '5000.00', transaction_count: '1' },
      { month: '2024-03-01', income: '0.00', spending: '1.00', net: '-1.00', transaction_count: '1' }
    ])
  })

  it('a user with no data gets no rows from any dataset', async () => {
    for (const dataset of DATASETS) {
      expect(await run(dataset, '33333333-3333-4333-8333-333333333333')).toEqual([])
    }
  })

  it('works wrapped in COPY, as exports run it', async () => {
    const file = join(wh.dir, 'out.csv')
    for (const dataset of DATASETS) {
      const [row] = await queryRows<{ Count: string }>(wh.connection, `COPY (${buildDatasetQuery(dataset, USER_B)}) TO '${file}' (FORMAT csv, HEADER)`)
      expect(Number(row!.Count), dataset.name).toBeGreaterThan(0)
    }
  })
})

describe('user scoping', () => {
  it('every base table is shadowed by a user-scoped CTE ahead of the dataset SQL', () => {
    for (const dataset of DATASETS) {
      const sql = buildDatasetQuery(dataset, USER_A)
      for (const table of ['transactions', 'accounts', 'tags']) {
        expect(sql).toMatch(new RegExp(`\\b${table} AS \\(SELECT \\* FROM main\\.${table} WHERE user_id = '${USER_A}'::UUID`))
      }
      expect(sql.indexOf(dataset.sql)).toBeGreaterThan(sql.indexOf('tags AS ('))
    }
  })

  it('shadowing reaches subqueries and nested CTEs (DuckDB resolves the CTE, not main.*)', async () => {
    // Built the same way as buildDatasetQuery, with a dataset SQL that hides its table references
    // in a nested WITH, a scalar subquery, a lateral-free join and an IN subquery.
    const probe: Dataset = {
      ...TX,
      sql: `WITH inner_tx AS (SELECT * FROM transactions)
        SELECT
          (SELECT count(*) FROM inner_tx) AS n_tx,
          (SELECT count(DISTINCT user_id) FROM transactions) AS n_users,
          (SELECT count(*) FROM accounts) AS n_accounts,
          (SELECT count(*) FROM tags WHERE tag_id IN (SELECT unnest(tag_ids) FROM transactions)) AS n_tags`,
      columns: ['n_tx', 'n_users', 'n_accounts', 'n_tags'].map(name => ({ name, type: 'BIGINT', description: name })),
      order: ['n_tx'],
      sortAlways: true,
      rowPerTransaction: false
    }
    expect(await run(probe, USER_B)).toEqual([{ n_tx: '3', n_users: '1', n_accounts: '1', n_tags: '1' }])
    expect(await run(probe, USER_A)).toEqual([{ n_tx: '12', n_users: '1', n_accounts: '2', n_tags: '3' }])
  })

  it('the unscoped tables really hold both users (so the tests above can fail)', async () => {
    const [row] = await queryRows(wh.connection, 'SELECT count(*) AS n, count(DISTINCT user_id) AS users FROM transactions')
    expect(row).toEqual({ n: '15', users: '2' })
  })
})

describe('filters', () => {
  it('start_date and end_date are inclusive', async () => {
    expect(await txIds(USER_A, { start_date: '2024-01-31', end_date: '2024-02-29' })).toEqual([5, 6, 7, 8].map(txA))
    expect(await txIds(USER_A, { start_date: '2024-03-01' })).toEqual([9, 10, 11, 12].map(txA))
    expect(await txIds(USER_A, { end_date: '2024-01-01' })).toEqual([1, 2, 3].map(txA))
    expect(await txIds(USER_A, { start_date: '2024-02-01', end_date: '2024-02-01' })).toEqual([6, 7].map(txA))
  })

  it('dates filter transactions before aggregation', async () => {
    expect(await run(MONTHLY, USER_A, { start_date: '2024-01-31', end_date: '2024-02-29' })).toEqual([
      { month: '2024-01-01', income: '0.00', spending: '3.75', net: '-3.75', transaction_count: '1' },
      { month: '2024-02-01', income: '2000.00', spending: '107.00', net: '1893.00', transaction_count: '3' }
    ])
  })

  it('account_ids keeps transactions on any of the accounts', async () => {
    expect(await txIds(USER_A, { account_ids: [ACC_A2] })).toEqual([3, 5, 8, 11].map(txA))
    expect(await txIds(USER_A, { account_ids: [ACC_A2.toUpperCase(), ACC_A1] })).toHaveLength(12)
    // Another user's account matches nothing: the user scope still applies.
    expect(await txIds(USER_A, { account_ids: [ACC_B1] })).toEqual([])
  })

  it('tag_ids (tagFilter transactions) keeps transactions carrying any of the tags, with all their tags', async () => {
    const rows = await run(TX, USER_A, { tag_ids: [TAG_RENT] })
    expect(rows.map(r => r.transaction_id)).toEqual([2, 5, 8].map(txA))
    expect(rows.map(r => r.tags)).toEqual([['Groceries', 'Rent'], ['Rent', 'Groceries'], ['Rent']])
    expect(await run(MONTHLY, USER_A, { tag_ids: [TAG_RENT] })).toEqual([
      { month: '2024-01-01', income: '0.00', spending: '9.25', net: '-9.25', transaction_count: '2' },
      { month: '2024-02-01', income: '0.00', spending: '100.00', net: '-100.00', transaction_count: '1' }
    ])
  })

  it('tag_ids (tagFilter rows) also keeps only the chosen tags\' rows', async () => {
    expect(DAILY.tagFilter).toBe('rows')
    const rows = await run(DAILY, USER_A, { tag_ids: [TAG_RENT, TAG_SALARY] })
    expect(rows.map(r => [r.date, r.tag_name, r.spending, r.transaction_count])).toEqual([
      ['2024-01-01', 'Rent', '5.50', '1'],
      ['2024-01-01', 'Salary', '0.00', '1'],
      ['2024-01-31', 'Rent', '3.75', '1'],
      ['2024-02-01', 'Salary', '0.00', '1'],
      ['2024-02-29', 'Rent', '100.00', '1'],
      ['2024-03-31', 'Salary', '30.00', '1']
    ])
  })

  it('filters combine with AND', async () => {
    expect(await txIds(USER_A, { start_date: '2024-01-01', end_date: '2024-01-31', account_ids: [ACC_A1], tag_ids: [TAG_GROCERIES] }))
      .toEqual([1, 2].map(txA))
  })

  it('empty lists and nulls mean no filter', async () => {
    expect(await txIds(USER_A, { start_date: null, end_date: null, account_ids: [], tag_ids: [] })).toHaveLength(12)
    expect(await txIds(USER_A, {})).toHaveLength(12)
  })
})

describe('validation and injection', () => {
  const injections = [
    '\' OR 1=1 --',
    '2024-01-01\'; DROP TABLE transactions; --',
    '2024-01-01\' OR \'1\'=\'1',
    `${USER_A}' OR '1'='1`,
    `${USER_A}'::UUID OR TRUE --`,
    `${USER_A}\u2019`, // right single quotation mark
    `\u2018${USER_A}`,
    `${USER_A}\n`,
    ` ${USER_A}`,
    `${USER_A};`,
    USER_A.replaceAll('-', ''),
    `{${USER_A}}`,
    '',
    '2024-01-01',
    '１１１１aaaa-1111-4111-8111-11111111111a' // fullwidth digits
  ]

  it('rejects bad user ids, naming user_id', () => {
    for (const bad of [...injections, null, undefined, 42, {}, [USER_A]]) {
      expectFieldError(() => buildDatasetQuery(TX, bad as string), 'user_id')
    }
  })

  it('rejects bad dates, naming the field', () => {
    const badDates = [
      ...injections.filter(v => v !== '2024-01-01'),
      '2024-02-30', '2023-02-29', '2024-13-01', '2024-00-10', '2024-01-00', '2024-04-31', '0000-01-01',
      '2024-1-01', '24-01-01', '2024/01/01', '2024-01-01T00:00:00', '2024-01-01 ', '２０２４-01-01', 20240101, ['2024-01-01']
    ]
    for (const field of ['start_date', 'end_date'] as const) {
      for (const bad of badDates) {
        expectFieldError(() => buildDatasetQuery(TX, USER_A, { [field]: bad as string }), field)
      }
    }
  })

  it('accepts real calendar edge dates', () => {
    for (const date of ['2024-02-29', '2000-02-29', '2023-12-31', '0001-01-01', '9999-12-31']) {
      expect(buildDatasetQuery(TX, USER_A, { start_date: date, end_date: date })).toContain(`DATE '${date}'`)
    }
    expectFieldError(() => buildDatasetQuery(TX, USER_A, { start_date: '1900-02-29' }), 'start_date')
  })

  it('rejects start_date after end_date', () => {
    expectFieldError(() => buildDatasetQuery(TX, USER_A, { start_date: '2024-02-01', end_date: '2024-01-31' }), 'start_date')
  })

  it('rejects bad ids in either list, naming the list', () => {
    for (const field of ['account_ids', 'tag_ids'] as const) {
      for (const bad of injections) {
        expectFieldError(() => buildDatasetQuery(DAILY, USER_A, { [field]: [ACC_A1, bad] }), field)
      }
      for (const bad of ['not-a-list', ACC_A1, 7, { 0: ACC_A1 }, [null], [1]]) {
        expectFieldError(() => buildDatasetQuery(DAILY, USER_A, { [field]: bad as unknown as string[] }), field)
      }
    }
  })

  it('allows 1000 ids and rejects 1001', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`)
    for (const field of ['account_ids', 'tag_ids'] as const) {
      expect(() => buildDatasetQuery(TX, USER_A, { [field]: ids(1000) })).not.toThrow()
      expectFieldError(() => buildDatasetQuery(TX, USER_A, { [field]: ids(1001) }), field)
    }
  })

  it('normalises ids to lowercase and deduplicates them', () => {
    const user = 'ABCDEF12-3456-4ABC-9DEF-ABCDEF123456'
    const sql = buildDatasetQuery(DAILY, user, {
      account_ids: [ACC_A1.toUpperCase(), ACC_A1, ACC_A1],
      tag_ids: [TAG_RENT, TAG_RENT.toUpperCase().replace('C', 'c')]
    })
    expect(sql).not.toContain(user)
    expect(sql).not.toContain(ACC_A1.toUpperCase())
    expect(sql).toContain(`user_id = '${user.toLowerCase()}'::UUID`)
    expect(sql.split(`'${ACC_A1}'::UUID`)).toHaveLength(2)
    // Once in the transactions filter, once in the tag rows filter.
    expect(sql.split(`'${TAG_RENT}'::UUID`)).toHaveLength(3)
  })

  it('an uppercase user id returns the same rows as the lowercase one', async () => {
    expect(await txIds(USER_A.toUpperCase())).toEqual(await txIds(USER_A))
    expect(await run(MONTHLY, USER_B.toUpperCase())).toEqual(await run(MONTHLY, USER_B))
  })

  it('rejects unknown filter keys rather than ignoring them', () => {
    expectFieldError(() => buildDatasetQuery(TX, USER_A, { tagIds: [TAG_RENT] } as DatasetFilters), 'filters')
    expectFieldError(() => buildDatasetQuery(TX, USER_A, 'x' as DatasetFilters), 'filters')
  })

  it('no literal in the SQL comes from unvalidated text', () => {
    // Quotes appear only around validated UUIDs and dates.
    const sql = buildDatasetQuery(DAILY, USER_A, { start_date: '2024-01-01', end_date: '2024-12-31', account_ids: [ACC_A1], tag_ids: [TAG_RENT] })
    const literals = sql.match(/'[^']*'/g) ?? []
    for (const literal of literals) {
      expect(literal).toMatch(/^'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d{2}-\d{2}|month)'$/)
    }
  })

  it('an injected filter never reaches DuckDB: the table survives', async () => {
    expect(() => buildDatasetQuery(TX, USER_A, { start_date: '2024-01-01\'; DROP TABLE transactions; --' })).toThrow(QueryBuilderError)
    const [row] = await queryRows(wh.connection, 'SELECT count(*) AS n FROM transactions')
    expect(row).toEqual({ n: '15' })
  })
})

describe('CSV projection (formula guard)', () => {
  it('prefixes text cells starting with = + - @ tab or CR with a quote, in CSV only, leaving numbers, dates and lists alone', async () => {
    const { dir, cleanup } = await tempDir()
    const path = join(dir, 'hostile.duckdb')
    const instance = await openWarehouse(path, { readOnly: false })
    const c = await instance.connect()
    try {
      await createBaseTables(c)
      const hostile = ['=HYPERLINK("http://evil","x")', '+1', '-2', '@SUM(A1)', '\tTab', '\rCR', 'plain', ' =spaced', 'a=b']
      await c.run(`INSERT INTO accounts VALUES ('${ACC_A1}', '${USER_A}', '=acc', 'GBP')`)
      await c.run(`INSERT INTO tags VALUES ('${TAG_RENT}', '${USER_A}', '-tag')`)
      for (const [i, merchant] of hostile.entries()) {
        const literal = merchant.replaceAll('\'', '\'\'').replace('\t', '\' || chr(9) || \'').replace('\r', '\' || chr(13) || \'')
        await c.run(`INSERT INTO transactions (transaction_id, user_id, account_id, transaction_date, amount, currency, merchant, description, tag_ids) VALUES ('${txA(i + 1)}', '${USER_A}', '${ACC_A1}', '2024-01-0${i + 1}', -1.50, 'GBP', '${literal}', '@desc', ['${TAG_RENT}'])`)
      }
      const csv = await queryRows<Record<string, unknown>>(c, buildDatasetQuery(TX, USER_A, {}, { listsAsJson: true, guardFormulas: true }))
      const byId = new Map(csv.map(r => [r.transaction_id, r]))
      hostile.forEach((merchant, i) => {
        const row = byId.get(txA(i + 1))!
        expect(row.merchant).toBe(/^[=+\-@\t\r]/.test(merchant) ? `'${merchant}` : merchant)
        expect(row).toMatchObject({ amount: '-1.50', transaction_date: `2024-01-0${i + 1}`, account_name: '\'=acc', description: '\'@desc' })
        // Lists become JSON (starting with [), which no spreadsheet reads as a formula.
        expect(row.tags).toBe('["-tag"]')
      })
      const daily = await queryRows<Record<string, unknown>>(c, buildDatasetQuery(DAILY, USER_A, {}, { listsAsJson: true, guardFormulas: true }))
      expect(new Set(daily.map(r => r.tag_name))).toEqual(new Set(['\'-tag']))
      // Parquet keeps the exact values.
      const raw = await queryRows<Record<string, unknown>>(c, buildDatasetQuery(TX, USER_A))
      expect(raw.map(r => r.merchant).sort()).toEqual([...hostile].sort())
    } finally {
      c.closeSync()
      instance.closeSync()
      await cleanup()
    }
  })
})

describe('columns and limit', () => {
  it('projects the chosen columns in the chosen order, identifiers as text', async () => {
    const rows = await queryRows<Record<string, unknown>>(wh.connection, buildDatasetQuery(TX, USER_A, {}, { columns: ['merchant', 'transaction_id', 'amount'] }))
    expect(Object.keys(rows[0]!)).toEqual(['merchant', 'transaction_id', 'amount'])
    expect(rows.map(r => r.transaction_id).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map(txA))
  })

  it('a limit takes the first rows in the natural order (date, then id), even without those columns', async () => {
    const rows = await queryRows<Record<string, unknown>>(wh.connection, buildDatasetQuery(TX, USER_A, {}, { columns: ['merchant'], limit: 3 }))
    const all = await queryRows<Record<string, unknown>>(wh.connection, buildDatasetQuery(TX, USER_A, {}, { limit: 12 }))
    expect(all.map(r => r.transaction_id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map(txA))
    expect(rows).toEqual(all.slice(0, 3).map(r => ({ merchant: r.merchant })))
    expect(buildDatasetQuery(TX, USER_A)).not.toMatch(/^ORDER BY/m)
    expect(buildDatasetQuery(TX, USER_A, {}, { limit: 5 })).toMatch(/ORDER BY dataset\."transaction_date", dataset\."transaction_id"\nLIMIT 5$/)
  })

  it('refuses unknown or repeated columns and limits outside 1..100,000,000, naming the field', () => {
    for (const columns of [['nope'], ['merchant', 'merchant'], [], ['merchant" FROM x; --']]) {
      expectFieldError(() => buildDatasetQuery(TX, USER_A, {}, { columns }), 'columns')
    }
    for (const limit of [0, -1, 1.5, 100_000_001, Number.NaN, '10' as unknown as number]) {
      expectFieldError(() => buildDatasetQuery(TX, USER_A, {}, { limit }), 'limit')
    }
    expect(() => buildDatasetQuery(TX, USER_A, {}, { limit: 100_000_000 })).not.toThrow()
  })
})

describe('row filters', () => {
  /** The builder's rows for the filters, with their values bound. */
  async function filtered(dataset: Dataset, filters: DatasetFilters, options: Parameters<typeof buildDatasetQuery>[3] = {}) {
    const params = queryParams(dataset, filters)
    const result = await wh.connection.runAndReadAll(buildDatasetQuery(dataset, USER_A, filters, options), params.values, params.types)
    return result.getRowObjectsJson() as Record<string, unknown>[]
  }

  async function counted(dataset: Dataset, filters: DatasetFilters): Promise<number> {
    const params = queryParams(dataset, filters)
    const result = await wh.connection.runAndReadAll(buildCountQuery(dataset, USER_A, filters), params.values, params.types)
    return Number(result.getRowObjectsJson()[0]!.n)
  }

  /**
   * The oracle: the dataset's SQL over user A's rows, written out here, with the condition as a
   * literal SQL predicate (LIKE/ILIKE, IN lists, list functions) rather than the builder's binds.
   */
  async function direct(dataset: Dataset, predicate: string, measure: string): Promise<{ n: number, total: string | null }> {
    const sql = `WITH transactions AS (SELECT * FROM main.transactions WHERE user_id = '${USER_A}'),
      accounts AS (SELECT * FROM main.accounts WHERE user_id = '${USER_A}'),
      tags AS (SELECT * FROM main.tags WHERE user_id = '${USER_A}')
      SELECT count(*) AS n, CAST(sum(${measure}) AS VARCHAR) AS total FROM (${dataset.sql}) AS d WHERE ${predicate}`
    const [row] = await queryRows<{ n: string, total: string | null }>(wh.connection, sql)
    return { n: Number(row!.n), total: row!.total }
  }

  const MEASURE: Record<string, string> = { [TX.id]: 'amount', [DAILY.id]: 'spending', [MONTHLY.id]: 'net' }

  // [dataset, condition, the same condition as literal SQL]: every operator on every kind of column.
  const cases: Array<[Dataset, RowFilter, string]> = [
    // DECIMAL(18,2)
    [TX, { column: 'amount', op: 'eq', value: '-5.5' }, 'amount = -5.50'],
    [TX, { column: 'amount', op: 'ne', value: 100 }, 'amount <> 100.00'],
    [TX, { column: 'amount', op: 'in', value: [-10, '2000.00', -0.01] }, 'amount IN (-10.00, 2000.00, -0.01)'],
    [TX, { column: 'amount', op: 'not_in', value: [-10, 50] }, 'amount NOT IN (-10.00, 50.00)'],
    [TX, { column: 'amount', op: 'lt', value: -7 }, 'amount < -7'],
    [TX, { column: 'amount', op: 'lte', value: -7 }, 'amount <= -7'],
    [TX, { column: 'amount', op: 'gt', value: '-0.01' }, 'amount > -0.01'],
    [TX, { column: 'amount', op: 'gte', value: '-0.01' }, 'amount >= -0.01'],
    [TX, { column: 'amount', op: 'between', value: [-20.25, 50] }, 'amount >= -20.25 AND amount <= 50'],
    [TX, { column: 'amount', op: 'is_null' }, 'amount IS NULL'],
    [TX, { column: 'amount', op: 'is_not_null' }, 'amount IS NOT NULL'],
    // DATE
    [TX, { column: 'transaction_date', op: 'eq', value: '2024-01-01' }, 'transaction_date = DATE \'2024-01-01\''],
    [TX, { column: 'transaction_date', op: 'ne', value: '2024-01-01' }, 'transaction_date <> DATE \'2024-01-01\''],
    [TX, { column: 'transaction_date', op: 'in', value: ['2024-02-29', '2024-03-01'] }, 'transaction_date IN (DATE \'2024-02-29\', DATE \'2024-03-01\')'],
    [TX, { column: 'transaction_date', op: 'not_in', value: ['2024-02-29'] }, 'transaction_date <> DATE \'2024-02-29\''],
    [TX, { column: 'transaction_date', op: 'lt', value: '2024-02-01' }, 'transaction_date < DATE \'2024-02-01\''],
    [TX, { column: 'transaction_date', op: 'lte', value: '2024-02-01' }, 'transaction_date <= DATE \'2024-02-01\''],
    [TX, { column: 'transaction_date', op: 'gt', value: '2024-02-29' }, 'transaction_date > DATE \'2024-02-29\''],
    [TX, { column: 'transaction_date', op: 'gte', value: '2024-02-29' }, 'transaction_date >= DATE \'2024-02-29\''],
    [TX, { column: 'transaction_date', op: 'between', value: ['2024-01-15', '2024-03-01'] }, 'transaction_date >= DATE \'2024-01-15\' AND transaction_date <= DATE \'2024-03-01\''],
    [TX, { column: 'transaction_date', op: 'is_null' }, 'transaction_date IS NULL'],
    [TX, { column: 'transaction_date', op: 'is_not_null' }, 'transaction_date IS NOT NULL'],
    // VARCHAR, on the table (merchant, description) and on the dataset's rows (account_name)
    [TX, { column: 'merchant', op: 'eq', value: 'Tesco' }, 'merchant = \'Tesco\''],
    [TX, { column: 'merchant', op: 'eq', value: 'tesco' }, 'false'],
    [TX, { column: 'merchant', op: 'ne', value: 'Tesco' }, 'merchant IS DISTINCT FROM \'Tesco\''],
    [TX, { column: 'merchant', op: 'in', value: ['Tesco', 'Shell', 'Nobody'] }, 'merchant IN (\'Tesco\', \'Shell\')'],
    [TX, { column: 'merchant', op: 'not_in', value: ['Tesco', 'Shell'] }, 'merchant NOT IN (\'Tesco\', \'Shell\')'],
    [TX, { column: 'merchant', op: 'contains', value: 'ES' }, 'merchant ILIKE \'%es%\''],
    [TX, { column: 'merchant', op: 'contains', value: 'ÜLLER' }, 'merchant ILIKE \'%üller%\''],
    [TX, { column: 'merchant', op: 'starts_with', value: 'café' }, 'merchant ILIKE \'café%\''],
    [TX, { column: 'merchant', op: 'ends_with', value: 'LTD' }, 'merchant ILIKE \'%ltd\''],
    [TX, { column: 'merchant', op: 'is_null' }, 'merchant IS NULL'],
    [TX, { column: 'merchant', op: 'is_not_null' }, 'merchant IS NOT NULL'],
    [TX, { column: 'description', op: 'is_null' }, 'description IS NULL'],
    [TX, { column: 'description', op: 'ne', value: 'pay' }, 'description IS NULL OR description <> \'pay\''],
    [TX, { column: 'description', op: 'not_in', value: ['pay', 'rent'] }, 'description IS NULL OR description NOT IN (\'pay\', \'rent\')'],
    [TX, { column: 'description', op: 'contains', value: 'A' }, 'description ILIKE \'%a%\''],
    [TX, { column: 'account_name', op: 'contains', value: '"house"' }, 'account_name = \'Joint "House"\''],
    [TX, { column: 'account_name', op: 'eq', value: 'Current' }, 'account_name = \'Current\''],
    [TX, { column: 'account_name', op: 'starts_with', value: 'joint' }, 'account_name ILIKE \'joint%\''],
    // UUID
    [TX, { column: 'account_id', op: 'eq', value: ACC_A1.toUpperCase() }, `account_id = '${ACC_A1}'`],
    [TX, { column: 'account_id', op: 'ne', value: ACC_A1 }, `account_id <> '${ACC_A1}'`],
    [TX, { column: 'account_id', op: 'in', value: [ACC_A2, ACC_B1] }, `account_id = '${ACC_A2}'`],
    [TX, { column: 'account_id', op: 'not_in', value: [ACC_A2] }, `account_id <> '${ACC_A2}'`],
    [TX, { column: 'transaction_id', op: 'in', value: [txA(3), txA(7), txB(1)] }, `transaction_id IN ('${txA(3)}', '${txA(7)}')`],
    [TX, { column: 'account_id', op: 'is_null' }, 'account_id IS NULL'],
    [TX, { column: 'account_id', op: 'is_not_null' }, 'account_id IS NOT NULL'],
    // Lists: UUID[] on the table, VARCHAR[] on the dataset's rows
    [TX, { column: 'tag_ids', op: 'has_any', value: [TAG_SALARY, TAG_RENT] }, `list_contains(tag_ids, '${TAG_SALARY}') OR list_contains(tag_ids, '${TAG_RENT}')`],
    [TX, { column: 'tag_ids', op: 'has_all', value: [TAG_GROCERIES, TAG_RENT] }, `list_contains(tag_ids, '${TAG_GROCERIES}') AND list_contains(tag_ids, '${TAG_RENT}')`],
    [TX, { column: 'tag_ids', op: 'has_none', value: [TAG_GROCERIES] }, `NOT list_contains(tag_ids, '${TAG_GROCERIES}')`],
    [TX, { column: 'tag_ids', op: 'is_empty' }, 'tag_ids = []'],
    [TX, { column: 'tags', op: 'has_any', value: ['Rent'] }, 'list_contains(tags, \'Rent\')'],
    [TX, { column: 'tags', op: 'has_all', value: ['Groceries', 'Salary'] }, 'list_contains(tags, \'Groceries\') AND list_contains(tags, \'Salary\')'],
    [TX, { column: 'tags', op: 'has_none', value: ['Groceries', 'Rent'] }, 'NOT list_contains(tags, \'Groceries\') AND NOT list_contains(tags, \'Rent\')'],
    [TX, { column: 'tags', op: 'is_empty' }, 'length(tags) = 0'],
    [TX, { column: 'tags', op: 'is_null' }, 'tags IS NULL'],
    [TX, { column: 'tags', op: 'is_not_null' }, 'tags IS NOT NULL'],
    // BIGINT and DECIMAL on aggregate datasets
    [DAILY, { column: 'transaction_count', op: 'eq', value: 2 }, 'transaction_count = 2'],
    [DAILY, { column: 'transaction_count', op: 'ne', value: '1' }, 'transaction_count <> 1'],
    [DAILY, { column: 'transaction_count', op: 'in', value: [2, 3] }, 'transaction_count IN (2, 3)'],
    [DAILY, { column: 'transaction_count', op: 'not_in', value: [1] }, 'transaction_count <> 1'],
    [DAILY, { column: 'transaction_count', op: 'lt', value: 2 }, 'transaction_count < 2'],
    [DAILY, { column: 'transaction_count', op: 'lte', value: 2 }, 'transaction_count <= 2'],
    [DAILY, { column: 'transaction_count', op: 'gt', value: 1 }, 'transaction_count > 1'],
    [DAILY, { column: 'transaction_count', op: 'gte', value: 1 }, 'transaction_count >= 1'],
    [DAILY, { column: 'transaction_count', op: 'between', value: [2, 2] }, 'transaction_count = 2'],
    [DAILY, { column: 'tag_name', op: 'in', value: ['Rent', 'Salary'] }, 'tag_name IN (\'Rent\', \'Salary\')'],
    [DAILY, { column: 'spending', op: 'gt', value: '5.49' }, 'spending > 5.49'],
    [DAILY, { column: 'date', op: 'between', value: ['2024-01-01', '2024-01-31'] }, 'date BETWEEN DATE \'2024-01-01\' AND DATE \'2024-01-31\''],
    [MONTHLY, { column: 'net', op: 'lt', value: 0 }, 'net < 0'],
    [MONTHLY, { column: 'month', op: 'eq', value: '2024-02-01' }, 'month = DATE \'2024-02-01\''],
    [MONTHLY, { column: 'transaction_count', op: 'is_not_null' }, 'transaction_count IS NOT NULL']
  ]

  it.each(cases.map(([dataset, filter, predicate]) => ({ name: dataset.name, dataset, filter, predicate })))('$name: $filter.column $filter.op $filter.value matches DuckDB\'s own query of the same condition', async ({ dataset, filter, predicate }) => {
    const filters = { row_filters: [filter] }
    const rows = await filtered(dataset, filters)
    const expected = await direct(dataset, predicate, MEASURE[dataset.id]!)
    expect(rows).toHaveLength(expected.n)
    expect(await counted(dataset, filters)).toBe(expected.n)
    const measure = MEASURE[dataset.id]!
    const cents = rows.reduce((sum, r) => sum + Math.round(Number(r[measure]) * 100), 0)
    expect(cents).toBe(Math.round(Number(expected.total ?? 0) * 100))
  })

  it('the cases cover every operator on every kind of column the datasets have', () => {
    const seen = new Set(cases.map(([dataset, f]) => `${dataset.columns.find(c => c.name === f.column)!.type.replace(/\(.*\)/, '')}:${f.op}`))
    for (const [type, ops] of Object.entries({
      'DECIMAL': ['eq', 'ne', 'in', 'not_in', 'lt', 'lte', 'gt', 'gte', 'between', 'is_null', 'is_not_null'],
      'DATE': ['eq', 'ne', 'in', 'not_in', 'lt', 'lte', 'gt', 'gte', 'between', 'is_null', 'is_not_null'],
      'BIGINT': ['eq', 'ne', 'in', 'not_in', 'lt', 'lte', 'gt', 'gte', 'between', 'is_not_null'],
      'VARCHAR': ['eq', 'ne', 'in', 'not_in', 'contains', 'starts_with', 'ends_with', 'is_null', 'is_not_null'],
      'UUID': ['eq', 'ne', 'in', 'not_in', 'is_null', 'is_not_null'],
      'UUID[]': ['has_any', 'has_all', 'has_none', 'is_empty'],
      'VARCHAR[]': ['has_any', 'has_all', 'has_none', 'is_empty', 'is_null', 'is_not_null']
    })) {
      for (const op of ops) expect(seen, `${type} ${op}`).toContain(`${type}:${op}`)
    }
  })

  it('all conditions hold together, with accounts, tags and dates', async () => {
    const filters: DatasetFilters = {
      start_date: '2024-01-01', end_date: '2024-03-01', account_ids: [ACC_A1], tag_ids: [TAG_GROCERIES],
      row_filters: [{ column: 'amount', op: 'lt', value: 0 }, { column: 'merchant', op: 'contains', value: 'tesco' }]
    }
    expect((await filtered(TX, filters)).map(r => r.transaction_id)).toEqual([txA(1), txA(9)])
    expect(await counted(TX, filters)).toBe(2)
    // A condition on a computed column moves every condition onto the dataset's rows: the same result.
    const onRows = { ...filters, row_filters: [...filters.row_filters!, { column: 'account_name', op: 'eq' as const, value: 'Current' }] }
    expect((await filtered(TX, onRows)).map(r => r.transaction_id)).toEqual([txA(1), txA(9)])
    expect(await counted(TX, onRows)).toBe(2)
  })

  it('apply before the limit and the columns: a condition on a column left out of the file still holds', async () => {
    for (const extra of [[], [{ column: 'tags', op: 'has_any', value: ['Groceries', 'Rent', 'Salary'] } as RowFilter]]) {
      const filters: DatasetFilters = { row_filters: [{ column: 'amount', op: 'gt', value: 0 }, ...extra] }
      const rows = await filtered(TX, filters, { columns: ['merchant'], limit: 2 })
      expect(rows).toEqual([{ merchant: 'Employer' }, { merchant: 'Employer' }])
      const sample = await filtered(TX, filters, { columns: ['transaction_id'], sampleRows: 2 })
      // The preview takes its sample's first rows with a LIMIT of its own.
      expect(sample.map(r => r.transaction_id).slice(0, 2)).toEqual([txA(3), txA(6)])
    }
  })

  it('% and _ are matched literally, quotes and backslashes are plain text, and user B\'s rows stay out', async () => {
    for (const value of ['%', '_', 'Tes_o', '%es%', '\'', '\'; DROP TABLE transactions; --', '\\', 'B shop', '" OR 1=1 --']) {
      for (const op of ['contains', 'starts_with', 'ends_with', 'eq'] as const) {
        expect(await filtered(TX, { row_filters: [{ column: 'merchant', op, value }] }), `${op} ${value}`).toEqual([])
      }
      expect(await filtered(TX, { row_filters: [{ column: 'tags', op: 'has_any', value: [value] }] })).toEqual([])
    }
    const [row] = await queryRows(wh.connection, 'SELECT count(*) AS n FROM transactions')
    expect(row).toEqual({ n: '15' })
  })

  it('no value is spliced into the SQL: it holds only placeholders', () => {
    const value = 'x\'y%z_"w\\v'
    const sql = buildDatasetQuery(TX, USER_A, { row_filters: [{ column: 'merchant', op: 'contains', value }, { column: 'tags', op: 'has_all', value: [value] }, { column: 'amount', op: 'between', value: [-1, 1] }] })
    expect(sql).not.toContain('x\'y')
    expect(sql).toContain('contains(lower(dataset."merchant"), lower($f0))')
    expect(sql).toContain('BETWEEN CAST($f2 AS DECIMAL(18,2)) AND CAST($f2_high AS DECIMAL(18,2))')
  })

  it('refuses bad conditions, naming the condition\'s field', () => {
    const bad: Array<[unknown, string]> = [
      [[{ column: 'amount', op: 'contains', value: 'x' }], 'row_filters[0].op'],
      [[{ column: 'tags', op: 'eq', value: 'x' }], 'row_filters[0].op'],
      [[{ column: 'merchant', op: 'lt', value: 'x' }], 'row_filters[0].op'],
      [[{ column: 'amount', op: 'gt', value: 1 }, { column: 'password', op: 'eq', value: 'x' }], 'row_filters[1].column'],
      [[{ column: 'amount', op: 'eq', value: '1.005' }], 'row_filters[0].value'],
      [[{ column: 'amount', op: 'eq', value: '1e3' }], 'row_filters[0].value'],
      [[{ column: 'amount', op: 'eq', value: 1e300 }], 'row_filters[0].value'],
      [[{ column: 'amount', op: 'eq', value: [1] }], 'row_filters[0].value'],
      [[{ column: 'amount', op: 'in', value: 1 }], 'row_filters[0].value'],
      [[{ column: 'amount', op: 'in', value: [] }], 'row_filters[0].value'],
      [[{ column: 'amount', op: 'between', value: [1] }], 'row_filters[0].value'],
      [[{ column: 'amount', op: 'between', value: [2, 1] }], 'row_filters[0].value'],
      [[{ column: 'amount', op: 'is_null', value: 1 }], 'row_filters[0].value'],
      [[{ column: 'transaction_date', op: 'eq', value: '2024-02-30' }], 'row_filters[0].value'],
      [[{ column: 'transaction_date', op: 'eq', value: '2024-01-01\' OR 1=1 --' }], 'row_filters[0].value'],
      [[{ column: 'account_id', op: 'eq', value: 'x\' OR 1=1' }], 'row_filters[0].value'],
      [[{ column: 'merchant', op: 'eq', value: 'a\0b' }], 'row_filters[0].value'],
      [[{ column: 'merchant', op: 'eq', value: 'x'.repeat(1001) }], 'row_filters[0].value'],
      [[{ column: 'merchant', op: 'eq', value: 5 }], 'row_filters[0].value'],
      [[{ column: 'merchant', op: 'contains', value: ['a', 'b'] }], 'row_filters[0].value'],
      [[{ column: 'amount', op: 'eq', value: true }], 'row_filters[0].value'],
      [[{ column: 'amount', op: 'eq', value: { $gt: 1 } }], 'row_filters'],
      [[{ column: 'amount', op: 'drop', value: 1 }], 'row_filters'],
      [Array.from({ length: 21 }, () => ({ column: 'amount', op: 'is_not_null' })), 'row_filters'],
      ['amount < 0', 'row_filters']
    ]
    for (const [rowFilters, field] of bad) {
      expectFieldError(() => buildDatasetQuery(TX, USER_A, { row_filters: rowFilters as RowFilter[] }), field)
      expectFieldError(() => queryParams(TX, { row_filters: rowFilters as RowFilter[] }), field)
    }
    expectFieldError(() => buildDatasetQuery(DAILY, USER_A, { row_filters: [{ column: 'transaction_count', op: 'eq', value: 1.5 }] }), 'row_filters[0].value')
    // A whole number on a DECIMAL column has no decimals to check; 1,000 characters are allowed.
    expect(() => buildDatasetQuery(TX, USER_A, { row_filters: [{ column: 'amount', op: 'eq', value: 7 }, { column: 'merchant', op: 'eq', value: 'x'.repeat(1000) }] })).not.toThrow()
  })
})

describe('slices of an export in parts', () => {
  it('slices on the transactions table: consecutive slices are the whole result in order, each row once', async () => {
    const all = await txIds(USER_A)
    expect(all.length).toBeGreaterThan(2)
    expect(tableSlice(TX)).toBe(true)
    const sliced = []
    for (let offset = 0; offset < all.length + 2; offset += 2) {
      const sql = buildDatasetQuery(TX, USER_A, {}, { slice: { offset, rows: 2 } })
      expect(sql).toContain(`LIMIT 2 OFFSET ${offset}),`)
      sliced.push(...(await queryRows<Record<string, unknown>>(wh.connection, sql)).map(r => r.transaction_id))
    }
    expect(sliced).toEqual(all)
  })

  it('not where the dataset sorts or aggregates, or a limit or an output condition chooses the rows', () => {
    expect(tableSlice(MONTHLY)).toBe(false)
    expect(tableSlice(DAILY)).toBe(false)
    expect(tableSlice(TX, {}, { limit: 10 })).toBe(false)
    expect(tableSlice(TX, { row_filters: [{ column: 'account_name', op: 'eq', value: 'x' }] })).toBe(false)
    expect(tableSlice(TX, { row_filters: [{ column: 'amount', op: 'lt', value: 0 }] })).toBe(true)
    // Without a table slice the builder ignores `slice` (the runner slices the output instead).
    expect(buildDatasetQuery(MONTHLY, USER_A, {}, { slice: { offset: 0, rows: 1 } })).not.toContain('OFFSET')
    expectFieldError(() => buildDatasetQuery(TX, USER_A, {}, { slice: { offset: -1, rows: 2 } }), 'slice.offset')
  })
})
