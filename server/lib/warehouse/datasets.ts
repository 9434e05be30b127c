/**
 * The dataset manifest: what users can export. Each dataset's SQL reads the unqualified base
 * tables `transactions`, `accounts` and `tags`; buildDatasetQuery (query.ts) shadows those names
 * with the requesting user's filtered rows, so nothing here needs to (or may) scope by user.
 * Never write `main.transactions` or another qualified name in `sql`: that would bypass the scope.
 */

export interface DatasetColumn { name: string, type: string, description: string }

export interface Dataset {
  /** Stable forever: stored in export jobs and used by API clients. Lowercase. */
  id: string
  name: string
  title: string
  description: string
  /** What one output row is, in words for the datasets page ("One row per transaction"). */
  rowDescription: string
  time_grain: 'daily' | 'monthly'
  /** The output column (DATE) that dates each row: the preview's histogram and the date coverage count by it. */
  dateColumn: string
  /** The exact output columns, in order; `type` is the DuckDB type name as DESCRIBE reports it. */
  columns: DatasetColumn[]
  sql: string
  /**
   * How a tag_ids filter applies. 'transactions': keep transactions carrying any of the tags.
   * 'rows': also keep only those tags' rows (for datasets with one row per tag).
   */
  tagFilter: 'transactions' | 'rows'
  /**
   * The natural row order: output columns that make the order total (date, then id). Used
   * always when sortAlways, otherwise only when a `limit` asks for "the first N rows" (so the
   * same request always returns the same rows).
   */
  order: readonly string[]
  /**
   * Whether every export is sorted. Not for row-level datasets: sorting every row would cost 3-4x
   * the export itself (5M transactions: CSV 14.5 s sorted against 4.2 s unsorted, with the sort
   * spilling under the memory limit), so those come in the warehouse's storage order (date order
   * for the demo warehouse) unless limited.
   */
  sortAlways: boolean
  /**
   * Exactly one output row per row of the (user-scoped, filtered) transactions, and `order` names
   * transactions columns: then a count, and a limit's first rows, are taken on the transactions
   * table itself instead of on the whole dataset (1M rows: ~5 ms against ~150 ms for a count; a
   * limit without computing every row's joins and lists first).
   */
  rowPerTransaction: boolean
  /**
   * Output columns that are the transactions table's own column of the same name and value: row
   * filters on them are applied on that table (rowPerTransaction datasets only).
   */
  transactionColumns: readonly string[]
  /**
   * The base `transactions` table's load-time column (TIMESTAMPTZ) that "only new rows since the
   * last run" schedules select by; null for datasets whose rows are aggregates (a total changes as
   * late rows arrive, so it has no load time of its own). It is not an output column: a file's
   * `data_as_of` says how far it goes, and row-level formats keep their published columns.
   */
  incrementalColumn: 'loaded_at' | null
}

const fctTransactions: Dataset = {
  id: '054f17bf-1dbb-43ed-98c3-b4858093d7fc',
  name: 'fct_transactions',
  title: 'Transactions',
  description: 'All transactions with tags and accounts',
  rowDescription: 'One row per transaction',
  time_grain: 'daily',
  dateColumn: 'transaction_date',
  columns: [
    { name: 'transaction_id', type: 'UUID', description: 'Unique transaction id' },
    { name: 'transaction_date', type: 'DATE', description: 'Date of the transaction' },
    { name: 'account_id', type: 'UUID', description: 'Account the transaction belongs to' },
    { name: 'account_name', type: 'VARCHAR', description: 'Name of the account' },
    { name: 'amount', type: 'DECIMAL(18,2)', description: 'Signed amount in major units: negative is spending, positive is income' },
    { name: 'currency', type: 'VARCHAR', description: 'ISO 4217 currency code of the account' },
    { name: 'merchant', type: 'VARCHAR', description: 'Merchant or counterparty' },
    { name: 'description', type: 'VARCHAR', description: 'Free-text description' },
    { name: 'tag_ids', type: 'UUID[]', description: 'Ids of the tags on the transaction' },
    { name: 'tags', type: 'VARCHAR[]', description: 'Names of the tags, in the same order as tag_ids' }
  ],
  // Tag names come from a per-user lookup list rather than a correlated subquery or an
  // unnest/re-aggregate: at 1M rows this ran as fast as not resolving names at all (about 1s),
  // against about 2.7s for unnest + join + group by and 3.7s for a correlated subquery.
  // Ordering the lookup by tag_id keeps the result deterministic even if an id were duplicated.
  sql: `
SELECT
  t.transaction_id,
  t.transaction_date,
  t.account_id,
  a.name AS account_name,
  t.amount,
  t.currency,
  t.merchant,
  t.description,
  t.tag_ids,
  list_transform(t.tag_ids, lambda id: lookup.names[list_position(lookup.ids, id)]) AS tags
FROM transactions AS t
LEFT JOIN accounts AS a ON a.account_id = t.account_id
CROSS JOIN (
  SELECT
    coalesce(list(tag_id ORDER BY tag_id, name), []::UUID[]) AS ids,
    coalesce(list(name ORDER BY tag_id, name), []::VARCHAR[]) AS names
  FROM tags
) AS lookup`,
  tagFilter: 'transactions',
  order: ['transaction_date', 'transaction_id'],
  sortAlways: false,
  // LEFT JOIN on the accounts' primary key and a CROSS JOIN with a one-row lookup.
  rowPerTransaction: true,
  transactionColumns: ['transaction_id', 'transaction_date', 'account_id', 'amount', 'currency', 'merchant', 'description', 'tag_ids'],
  incrementalColumn: 'loaded_at'
}

const fctDailySpendingByTag: Dataset = {
  id: '8f1fab1c-e78a-4dd5-8345-488665a81279',
  name: 'fct_daily_spending_by_tag',
  title: 'Daily Spending by Tag',
  description: 'Daily spending totals grouped by tag',
  rowDescription: 'One row per day and tag that has transactions',
  time_grain: 'daily',
  dateColumn: 'date',
  columns: [
    { name: 'date', type: 'DATE', description: 'Transaction date' },
    { name: 'tag_id', type: 'UUID', description: 'Tag id' },
    { name: 'tag_name', type: 'VARCHAR', description: 'Tag name' },
    { name: 'spending', type: 'DECIMAL(18,2)', description: 'Total spending (negative amounts, as a positive number) of that day\'s transactions carrying the tag; 0 when none' },
    { name: 'transaction_count', type: 'BIGINT', description: 'Number of that day\'s transactions carrying the tag' }
  ],
  // list_distinct: a tag listed twice on one transaction must not count it twice. The inner join
  // drops ids with no tag row, and (tagFilter 'rows') tags outside a tag_ids filter.
  sql: `
SELECT
  e.transaction_date AS date,
  g.tag_id,
  g.name AS tag_name,
  CAST(coalesce(-sum(e.amount) FILTER (WHERE e.amount < 0), 0) AS DECIMAL(18,2)) AS spending,
  count(*) AS transaction_count
FROM (
  SELECT transaction_date, amount, unnest(list_distinct(tag_ids)) AS tag_id
  FROM transactions
) AS e
JOIN tags AS g ON g.tag_id = e.tag_id
GROUP BY e.transaction_date, g.tag_id, g.name`,
  tagFilter: 'rows',
  order: ['date', 'tag_name', 'tag_id'],
  sortAlways: true,
  rowPerTransaction: false,
  transactionColumns: [],
  incrementalColumn: null
}

const fctMonthlyTrends: Dataset = {
  id: 'f586dc33-1f30-43db-9a15-48d593239fae',
  name: 'fct_monthly_trends',
  title: 'Monthly Trends',
  description: 'Monthly income vs spending trends',
  rowDescription: 'One row per month that has transactions',
  time_grain: 'monthly',
  dateColumn: 'month',
  columns: [
    { name: 'month', type: 'DATE', description: 'First day of the month' },
    { name: 'income', type: 'DECIMAL(18,2)', description: 'Sum of positive amounts' },
    { name: 'spending', type: 'DECIMAL(18,2)', description: 'Sum of negative amounts, as a positive number' },
    { name: 'net', type: 'DECIMAL(18,2)', description: 'Income minus spending' },
    { name: 'transaction_count', type: 'BIGINT', description: 'Number of transactions in the month' }
  ],
  // SUM over DECIMAL(18,2) widens to DECIMAL(38,2); the casts keep the published types stable.
  sql: `
SELECT
  CAST(date_trunc('month', transaction_date) AS DATE) AS month,
  CAST(coalesce(sum(amount) FILTER (WHERE amount > 0), 0) AS DECIMAL(18,2)) AS income,
  CAST(coalesce(-sum(amount) FILTER (WHERE amount < 0), 0) AS DECIMAL(18,2)) AS spending,
  CAST(sum(amount) AS DECIMAL(18,2)) AS net,
  count(*) AS transaction_count
FROM transactions
GROUP BY CAST(date_trunc('month', transaction_date) AS DATE)`,
  tagFilter: 'transactions',
  order: ['month'],
  sortAlways: true,
  rowPerTransaction: false,
  transactionColumns: [],
  incrementalColumn: null
}

// Frozen all the way down: the SQL is trusted code, so nothing at runtime may rewrite it.
function freeze(dataset: Dataset): Dataset {
  dataset.columns.forEach(c => Object.freeze(c))
  Object.freeze(dataset.columns)
  Object.freeze(dataset.order)
  Object.freeze(dataset.transactionColumns)
  return Object.freeze(dataset)
}

export const DATASETS: readonly Dataset[] = Object.freeze([fctTransactions, fctDailySpendingByTag, fctMonthlyTrends].map(freeze))

export function findDataset(id: string): Dataset | undefined {
  const key = id.toLowerCase()
  return DATASETS.find(d => d.id === key)
}
