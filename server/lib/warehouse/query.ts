import { LIST, listValue, VARCHAR, type DuckDBType, type DuckDBValue } from '@duckdb/node-api'
import { MAX_FILTER_IDS } from '#shared/types/exports'
import { checkRowFilters, RowFiltersSchema, type RowFilter } from '#shared/types/row-filters'
import { isUuid } from '#shared/utils/uuid'
import type { Dataset, DatasetColumn } from './datasets'

/** null and undefined both mean "no filter", as do empty id lists. */
export interface DatasetFilters {
  start_date?: string | null
  end_date?: string | null
  account_ids?: string[] | null
  tag_ids?: string[] | null
  /** Conditions on the dataset's columns, all of which must hold; their values are bound (queryParams). */
  row_filters?: RowFilter[] | null
  /**
   * An incremental run's window on the dataset's incremental column: rows loaded strictly after
   * `loaded_after` (null: from the start) and at or before `loaded_until` (instants as ISO 8601 UTC
   * with up to six fractional digits, the warehouse's precision, so a window's end is exactly the
   * next one's start).
   */
  loaded_after?: string | null
  loaded_until?: string | null
}

/** The values a query's placeholders (`$f0`, `$f1_high`) are bound to, as DuckDB takes them. */
export interface QueryParams {
  values: Record<string, DuckDBValue>
  types: Record<string, DuckDBType>
}

export class QueryBuilderError extends Error {
  readonly field: string

  constructor(field: string, message: string) {
    super(`Invalid ${field}: ${message}`)
    this.name = 'QueryBuilderError'
    this.field = field
  }
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/
const FILTER_KEYS = new Set(['start_date', 'end_date', 'account_ids', 'tag_ids', 'row_filters', 'loaded_after', 'loaded_until'])
const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/

export interface ProjectionOptions {
  /** Lists as JSON arrays (text formats have no list type). */
  listsAsJson?: boolean
  /** Text cells a spreadsheet would run as a formula get a leading `'` (CSV only). */
  guardFormulas?: boolean
  /** Output columns by name, in this order; absent = all, in the manifest's order. */
  columns?: readonly string[] | null
  /** At most this many rows, taken in the dataset's natural order. */
  limit?: number | null
  /**
   * Only some first rows are wanted (the preview's sample): for a dataset of one row per
   * transaction, at most this many transactions are read, so the joins and lists are computed for
   * those alone (a LIMIT above them still lets DuckDB compute whole row groups first).
   */
  sampleRows?: number | null
  /**
   * One part of an export in parts: these rows of the transactions table, in its natural order,
   * for a dataset of one row per transaction whose conditions are on that table and that neither
   * sorts nor limits (`tableSlice()` says when); the joins then run for those rows alone.
   */
  slice?: { offset: number, rows: number } | null
}

export interface OutputColumn {
  name: string
  /** The DuckDB type as written: identifiers are VARCHAR, lists written as JSON are VARCHAR. */
  type: string
}

/** The largest limit the builder accepts (the API's cap). */
const MAX_LIMIT = 100_000_000

/**
 * The SQL for one user's export of a dataset: a plain SELECT that COPY can wrap, with placeholders
 * for its row filters' values (bound with queryParams; none without row filters).
 *
 * CTEs named after the base tables shadow them for the whole dataset query, subqueries included,
 * so every reference the manifest makes already sees only this user's filtered rows; the real
 * tables are reached only here, as main.<table>. The user id, dates and ids become SQL literals,
 * which is safe only because each one is first validated against a strict pattern that cannot
 * contain a quote; row filters' values, which are free text, are only ever bound.
 */
export function buildDatasetQuery(dataset: Dataset, userId: string, filters: DatasetFilters = {}, options: ProjectionOptions = {}): string {
  const columns = selectColumns(dataset, options.columns)
  const limit = parseLimit(options.limit)
  const sample = parseLimit(options.sampleRows, 'sampleRows')
  // Sorted on the dataset's own (typed, unguarded) columns, qualified so that a projected column
  // of the same name (a guarded or cast one) is not what orders the rows, and so that columns
  // left out of the projection can still order them.
  const sorted = dataset.sortAlways || limit !== undefined
  const rows = rowConditions(dataset, filters)
  const slice = options.slice && tableSlice(dataset, filters, options) ? options.slice : undefined
  return [
    scopedTables(dataset, userId, filters, limit, sample, slice),
    `SELECT ${projection(columns, options)} FROM (${dataset.sql}\n) AS dataset`,
    ...(rows.onOutput.length ? [`WHERE ${rows.onOutput.join(' AND ')}`] : []),
    ...(sorted ? [`ORDER BY ${dataset.order.map(c => `dataset."${c}"`).join(', ')}`] : []),
    ...(limit !== undefined ? [`LIMIT ${limit}`] : [])
  ].join('\n')
}

/**
 * Whether a part of an export can be sliced on the transactions table (see `slice`): one output row
 * per transaction, conditions on the table, no sort and no limit (whose rows are chosen by sorting).
 */
export function tableSlice(dataset: Dataset, filters: DatasetFilters = {}, options: ProjectionOptions = {}): boolean {
  return !dataset.sortAlways && parseLimit(options.limit) === undefined && rowConditions(dataset, filters).onTable
}

/** `SELECT count(*) AS n`: the rows the same filters give, without a limit. */
export function buildCountQuery(dataset: Dataset, userId: string, filters: DatasetFilters = {}): string {
  if (rowConditions(dataset, filters).onTable) return `${scopedTables(dataset, userId, filters)}\nSELECT count(*) AS n FROM transactions`
  return `SELECT count(*) AS n FROM (${buildDatasetQuery(dataset, userId, filters, { columns: [dataset.columns[0]!.name] })}) AS counted`
}

/**
 * `SELECT day, n`: the rows the same filters (and limit) give on each date of the dataset's date
 * column, for the preview's histogram and the date coverage. Dates without rows are absent.
 */
export function buildDayCountQuery(dataset: Dataset, userId: string, filters: DatasetFilters = {}, limit?: number | null): string {
  const day = `"${dataset.dateColumn}"`
  if (rowConditions(dataset, filters).onTable && !limit && dataset.transactionColumns.includes(dataset.dateColumn)) {
    return `${scopedTables(dataset, userId, filters)}\nSELECT ${day} AS day, count(*) AS n FROM transactions GROUP BY ${day}`
  }
  return `SELECT ${day} AS day, count(*) AS n FROM (${buildDatasetQuery(dataset, userId, filters, { columns: [dataset.dateColumn], limit })}) AS dated GROUP BY ${day}`
}

/**
 * The newest load time (epoch ms, as text) of the user's transactions: every dataset is built on
 * them, so it says how fresh each one is. Null when the user has none.
 */
export function buildLatestLoadQuery(userId: string): string {
  return `SELECT CAST(epoch_ms(max(loaded_at)) AS VARCHAR) AS loaded_ms FROM main.transactions WHERE user_id = ${uuidLiteral(parseUuid(userId, 'user_id'))}`
}

/**
 * The WITH clause that scopes the base tables to the user and the filters. With a limit, a
 * dataset of one row per transaction takes its first rows here, on the table, in its natural
 * order (the outer query sorts and limits again: the same rows).
 */
function scopedTables(dataset: Dataset, userId: string, filters: DatasetFilters, limit?: number, sample?: number, slice?: { offset: number, rows: number }): string {
  const user = uuidLiteral(parseUuid(userId, 'user_id'))
  const f = parseFilters(filters)

  const txConditions = [`user_id = ${user}`]
  if (f.startDate) txConditions.push(`transaction_date >= DATE '${f.startDate}'`)
  if (f.endDate) txConditions.push(`transaction_date <= DATE '${f.endDate}'`)
  if (f.accountIds.length) txConditions.push(`account_id IN (${f.accountIds.map(uuidLiteral).join(', ')})`)
  if (f.tagIds.length) txConditions.push(`list_has_any(tag_ids, [${f.tagIds.map(uuidLiteral).join(', ')}])`)
  if (f.loadedAfter || f.loadedUntil) {
    if (!dataset.incrementalColumn) throw new QueryBuilderError('loaded_after', 'the dataset has no load time')
    if (f.loadedAfter) txConditions.push(`"${dataset.incrementalColumn}" > TIMESTAMPTZ '${f.loadedAfter}'`)
    if (f.loadedUntil) txConditions.push(`"${dataset.incrementalColumn}" <= TIMESTAMPTZ '${f.loadedUntil}'`)
  }
  const rows = rowConditions(dataset, filters)
  txConditions.push(...rows.onTransactions)
  let firstRows = ''
  if (rows.onTable && limit !== undefined) firstRows = ` ORDER BY ${dataset.order.map(c => `"${c}"`).join(', ')} LIMIT ${Math.min(limit, sample ?? limit)}`
  else if (rows.onTable && sample !== undefined) firstRows = ` LIMIT ${sample}`
  else if (slice) firstRows = ` LIMIT ${parseCount(slice.rows, 'slice.rows')} OFFSET ${parseCount(slice.offset, 'slice.offset')}`

  const tagConditions = [`user_id = ${user}`]
  if (f.tagIds.length && dataset.tagFilter === 'rows') tagConditions.push(`tag_id IN (${f.tagIds.map(uuidLiteral).join(', ')})`)

  return [
    'WITH',
    `  transactions AS (SELECT * FROM main.transactions WHERE ${txConditions.join(' AND ')}${firstRows}),`,
    `  accounts AS (SELECT * FROM main.accounts WHERE user_id = ${user}),`,
    `  tags AS (SELECT * FROM main.tags WHERE ${tagConditions.join(' AND ')})`
  ].join('\n')
}

interface RowConditions {
  /** Conditions on the transactions table (every column they name is one of its own). */
  onTransactions: string[]
  /** Conditions on the dataset's output rows. */
  onOutput: string[]
  /** Whether counts and first rows may be taken on the transactions table (rowPerTransaction). */
  onTable: boolean
}

/**
 * Where the row filters apply: for a dataset of one row per transaction whose conditions all name
 * columns of the transactions table, on that table (its count and first rows stay cheap);
 * otherwise on the dataset's rows, before the projection and limit, so a condition on a column
 * left out of the file still holds.
 */
function rowConditions(dataset: Dataset, filters: DatasetFilters): RowConditions {
  const rowFilters = parseRowFilters(dataset, filters.row_filters)
  const onTable = dataset.rowPerTransaction && rowFilters.every(f => dataset.transactionColumns.includes(f.column))
  const conditions = rowFilters.map((filter, i) => {
    const name = `"${manifestColumn(dataset, filter.column).name}"`
    return rowCondition(dataset, filter, i, onTable ? name : `dataset.${name}`)
  })
  return { onTransactions: onTable ? conditions : [], onOutput: onTable ? [] : conditions, onTable }
}

function parseRowFilters(dataset: Dataset, value: unknown): RowFilter[] {
  if (value === undefined || value === null) return []
  const parsed = RowFiltersSchema.safeParse(value)
  if (!parsed.success) throw new QueryBuilderError('row_filters', parsed.error.issues[0]?.message ?? 'invalid')
  const { filters, errors } = checkRowFilters(dataset.name, dataset.columns, parsed.data)
  if (errors.length) throw new QueryBuilderError(errors[0]!.field, errors[0]!.message)
  return filters
}

function manifestColumn(dataset: Dataset, name: string): DatasetColumn {
  return dataset.columns.find(c => c.name === name)!
}

/**
 * One condition as SQL: the column's name and type come from the manifest, the values only from
 * placeholders (`$f<i>`, cast to the column's type, so decimals compare at the column's scale).
 * Text matching is case-insensitive with functions, not LIKE, so `%` and `_` are plain characters.
 * `ne`, `not_in` and `has_none` keep rows where the column is null: they hold what is not equal.
 */
function rowCondition(dataset: Dataset, filter: RowFilter, i: number, x: string): string {
  const type = manifestColumn(dataset, filter.column).type
  const element = type.endsWith('[]') ? type.slice(0, -2) : type
  const one = `CAST($f${i} AS ${type})`
  const list = `CAST($f${i} AS ${element}[])`
  switch (filter.op) {
    case 'eq': return `${x} = ${one}`
    case 'ne': return `${x} IS DISTINCT FROM ${one}`
    case 'in': return `list_contains(${list}, ${x})`
    case 'not_in': return `NOT coalesce(list_contains(${list}, ${x}), false)`
    case 'is_null': return `${x} IS NULL`
    case 'is_not_null': return `${x} IS NOT NULL`
    case 'lt': return `${x} < ${one}`
    case 'lte': return `${x} <= ${one}`
    case 'gt': return `${x} > ${one}`
    case 'gte': return `${x} >= ${one}`
    case 'between': return `${x} BETWEEN ${one} AND CAST($f${i}_high AS ${type})`
    case 'contains': return `contains(lower(${x}), lower($f${i}))`
    case 'starts_with': return `starts_with(lower(${x}), lower($f${i}))`
    case 'ends_with': return `suffix(lower(${x}), lower($f${i}))`
    case 'has_any': return `list_has_any(${x}, ${list})`
    case 'has_all': return `list_has_all(${x}, ${list})`
    case 'has_none': return `NOT coalesce(list_has_any(${x}, ${list}), false)`
    case 'is_empty': return `len(${x}) = 0`
  }
}

/** The values for the placeholders of a query built with the same dataset and filters, as text. */
export function queryParams(dataset: Dataset, filters: DatasetFilters = {}): QueryParams {
  const params: QueryParams = { values: {}, types: {} }
  parseRowFilters(dataset, filters.row_filters).forEach((filter, i) => {
    const value = filter.value
    if (value === undefined) return
    if (filter.op === 'between' && Array.isArray(value)) {
      params.values[`f${i}`] = String(value[0])
      params.values[`f${i}_high`] = String(value[1])
    } else if (Array.isArray(value)) {
      params.values[`f${i}`] = listValue(value.map(String))
      params.types[`f${i}`] = LIST(VARCHAR)
    } else {
      params.values[`f${i}`] = String(value)
    }
  })
  return params
}

/** The query's columns as they are written, for a projection built with the same options. */
export function outputColumns(dataset: Dataset, options: ProjectionOptions = {}): OutputColumn[] {
  return selectColumns(dataset, options.columns).map(c => ({ name: c.name, type: outputType(c.type, options) }))
}

function outputType(type: string, options: ProjectionOptions): string {
  if (type.endsWith('[]')) return options.listsAsJson ? 'VARCHAR' : `${outputType(type.slice(0, -2), options)}[]`
  return type === 'UUID' ? 'VARCHAR' : type
}

/** The manifest's columns the options ask for, in their order; names are looked up, never spliced. */
function selectColumns(dataset: Dataset, names: readonly string[] | null | undefined): readonly DatasetColumn[] {
  if (names === undefined || names === null) return dataset.columns
  if (!Array.isArray(names) || names.length === 0) throw new QueryBuilderError('columns', 'must be a non-empty list of column names')
  const byName = new Map(dataset.columns.map(c => [c.name, c]))
  const unknown = names.filter(n => !byName.has(n))
  if (unknown.length) throw new QueryBuilderError('columns', `unknown column ${unknown.map(n => JSON.stringify(String(n).slice(0, 40))).join(', ')}`)
  if (new Set(names).size !== names.length) throw new QueryBuilderError('columns', 'repeated column')
  return names.map(n => byName.get(n)!)
}

/** A slice's row count or offset: a whole number, 0 or more (spliced into SQL only once checked). */
function parseCount(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new QueryBuilderError(field, 'must be a whole number, 0 or more')
  return value
}

function parseLimit(value: unknown, field = 'limit'): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw new QueryBuilderError(field, `must be a whole number from 1 to ${MAX_LIMIT}`)
  }
  return value
}

/**
 * Identifiers are written as text in every format: Parquet's UUID logical type is read as 16 raw
 * bytes by older pyarrow/pandas and refused by some Spark and BigQuery versions, and JSON and CSV
 * print them as text anyway.
 *
 * Text formats have no list type: DuckDB would print its own literal syntax (`['a\\'b', c]`),
 * which no CSV consumer can parse reliably. A JSON array is unambiguous and one json.loads away
 * (and, starting with `[`, never a formula).
 *
 * Spreadsheets run a cell starting with = + - @ (or tab/CR, which some strip first) as a formula,
 * so a merchant named `=HYPERLINK(...)` would execute when the CSV is opened (OWASP "CSV
 * injection"). Those text cells get a leading `'`, which spreadsheets show as text. Numbers and
 * dates have their own types here and are never touched, so -5.50 stays a number.
 * Column names come from the trusted manifest (a requested name is only ever looked up in it).
 */
function projection(columns: readonly DatasetColumn[], options: ProjectionOptions): string {
  return columns.map((c) => {
    const name = `dataset."${c.name}"`
    const alias = `"${c.name}"`
    if (c.type.endsWith('[]')) {
      const list = c.type === 'UUID[]' ? `CAST(${name} AS VARCHAR[])` : name
      return `${options.listsAsJson ? `CAST(to_json(${list}) AS VARCHAR)` : list} AS ${alias}`
    }
    if (c.type === 'UUID') return `CAST(${name} AS VARCHAR) AS ${alias}`
    if (options.guardFormulas && c.type === 'VARCHAR') {
      return `CASE WHEN left(${name}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || ${name} ELSE ${name} END AS ${alias}`
    }
    return `${name} AS ${alias}`
  }).join(', ')
}

interface ParsedFilters { startDate?: string, endDate?: string, accountIds: string[], tagIds: string[], loadedAfter?: string, loadedUntil?: string }

function parseFilters(filters: DatasetFilters): ParsedFilters {
  if (filters === null || typeof filters !== 'object' || Array.isArray(filters)) {
    throw new QueryBuilderError('filters', 'must be an object')
  }
  // A misspelt key would otherwise silently export more than the user asked for.
  for (const key of Object.keys(filters)) {
    if (!FILTER_KEYS.has(key)) throw new QueryBuilderError('filters', `unknown filter ${JSON.stringify(key.slice(0, 40))}`)
  }
  const startDate = parseDate(filters.start_date, 'start_date')
  const endDate = parseDate(filters.end_date, 'end_date')
  // ISO dates compare correctly as strings.
  if (startDate && endDate && startDate > endDate) throw new QueryBuilderError('start_date', 'must not be after end_date')
  return {
    startDate,
    endDate,
    accountIds: parseIds(filters.account_ids, 'account_ids'),
    tagIds: parseIds(filters.tag_ids, 'tag_ids'),
    loadedAfter: parseInstant(filters.loaded_after, 'loaded_after'),
    loadedUntil: parseInstant(filters.loaded_until, 'loaded_until')
  }
}

// Spliced as a literal, so held to a pattern that cannot contain a quote.
function parseInstant(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string' || !INSTANT_RE.test(value) || Number.isNaN(Date.parse(value))) throw new QueryBuilderError(field, 'expected an ISO 8601 UTC instant')
  return value
}

function parseUuid(value: unknown, field: string): string {
  if (!isUuid(value)) throw new QueryBuilderError(field, 'not a UUID')
  return value.toLowerCase()
}

function uuidLiteral(uuid: string): string {
  return `'${uuid}'::UUID`
}

function parseDate(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined
  const match = typeof value === 'string' ? DATE_RE.exec(value) : null
  if (!match) throw new QueryBuilderError(field, 'expected YYYY-MM-DD')
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new QueryBuilderError(field, 'not a calendar date')
  }
  return value as string
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

function parseIds(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw new QueryBuilderError(field, 'must be a list of UUIDs')
  if (value.length > MAX_FILTER_IDS) throw new QueryBuilderError(field, `at most ${MAX_FILTER_IDS} ids`)
  // Sorted as well as deduplicated so equal filters always produce the same SQL.
  return [...new Set(value.map(v => parseUuid(v, field)))].sort()
}
