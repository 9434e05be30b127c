import { MAX_FILTER_IDS } from '../../../shared/types/exports'
import { isUuid } from '../../../shared/utils/uuid'
import type { Dataset } from './datasets'

/** null and undefined both mean "no filter", as do empty id lists. */
export interface DatasetFilters {
  start_date?: string | null
  end_date?: string | null
  account_ids?: string[] | null
  tag_ids?: string[] | null
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
const FILTER_KEYS = new Set(['start_date', 'end_date', 'account_ids', 'tag_ids'])

export interface ProjectionOptions {
  /** Lists as JSON arrays (text formats have no list type). */
  listsAsJson?: boolean
  /** Text cells a spreadsheet would run as a formula get a leading `'` (CSV only). */
  guardFormulas?: boolean
}

/**
 * The SQL for one user's export of a dataset: a plain SELECT (no parameters) that COPY can wrap.
 *
 * CTEs named after the base tables shadow them for the whole dataset query, subqueries included,
 * so every reference the manifest makes already sees only this user's filtered rows; the real
 * tables are reached only here, as main.<table>. Values become SQL literals, which is safe only
 * because each one is first validated against a strict pattern that cannot contain a quote.
 */
export function buildDatasetQuery(dataset: Dataset, userId: string, filters: DatasetFilters = {}, options: ProjectionOptions = {}): string {
  const user = uuidLiteral(parseUuid(userId, 'user_id'))
  const f = parseFilters(filters)

  const txConditions = [`user_id = ${user}`]
  if (f.startDate) txConditions.push(`transaction_date >= DATE '${f.startDate}'`)
  if (f.endDate) txConditions.push(`transaction_date <= DATE '${f.endDate}'`)
  if (f.accountIds.length) txConditions.push(`account_id IN (${f.accountIds.map(uuidLiteral).join(', ')})`)
  if (f.tagIds.length) txConditions.push(`list_has_any(tag_ids, [${f.tagIds.map(uuidLiteral).join(', ')}])`)

  const tagConditions = [`user_id = ${user}`]
  if (f.tagIds.length && dataset.tagFilter === 'rows') tagConditions.push(`tag_id IN (${f.tagIds.map(uuidLiteral).join(', ')})`)

  return [
    'WITH',
    `  transactions AS (SELECT * FROM main.transactions WHERE ${txConditions.join(' AND ')}),`,
    `  accounts AS (SELECT * FROM main.accounts WHERE user_id = ${user}),`,
    `  tags AS (SELECT * FROM main.tags WHERE ${tagConditions.join(' AND ')})`,
    `SELECT ${options.listsAsJson || options.guardFormulas ? textProjection(dataset, options) : '*'} FROM (${dataset.sql}\n) AS dataset`,
    ...(dataset.orderBy ? [`ORDER BY ${dataset.orderBy}`] : [])
  ].join('\n')
}

/**
 * Text formats have no list type: DuckDB would print its own literal syntax (`['a\\'b', c]`),
 * which no CSV consumer can parse reliably. A JSON array is unambiguous and one json.loads away
 * (and, starting with `[`, never a formula).
 *
 * Spreadsheets run a cell starting with = + - @ (or tab/CR, which some strip first) as a formula,
 * so a merchant named `=HYPERLINK(...)` would execute when the CSV is opened (OWASP "CSV
 * injection"). Those text cells get a leading `'`, which spreadsheets show as text. Numbers and
 * dates have their own types here and are never touched, so -5.50 stays a number.
 * Column names come from the trusted manifest.
 */
function textProjection(dataset: Dataset, options: ProjectionOptions): string {
  return dataset.columns.map((c) => {
    const name = `"${c.name}"`
    if (options.listsAsJson && c.type.endsWith('[]')) return `to_json(${name}) AS ${name}`
    if (options.guardFormulas && c.type === 'VARCHAR') {
      return `CASE WHEN left(${name}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || ${name} ELSE ${name} END AS ${name}`
    }
    return name
  }).join(', ')
}

interface ParsedFilters { startDate?: string, endDate?: string, accountIds: string[], tagIds: string[] }

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
    tagIds: parseIds(filters.tag_ids, 'tag_ids')
  }
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
