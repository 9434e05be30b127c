import { z } from 'zod'
import type { FieldError } from './api'
import { isUuid } from '../utils/uuid'

/**
 * Row filters: conditions on a dataset's columns (`amount lt -100`), all of which must hold. The
 * operators a column offers follow from its type in the dataset's manifest; the API (through the
 * engine, which has the manifest) and the export dialog (from the datasets' columns) check a
 * condition with the same function here, and the engine binds every value as a parameter.
 */

export const MAX_ROW_FILTERS = 20
export const MAX_FILTER_VALUES = 1000
/** Longer text cannot match anything a person typed; it only makes queries slower. */
export const MAX_FILTER_TEXT = 1000

export const ROW_FILTER_OPS = [
  'eq', 'ne', 'in', 'not_in', 'is_null', 'is_not_null',
  'lt', 'lte', 'gt', 'gte', 'between',
  'contains', 'starts_with', 'ends_with',
  'has_any', 'has_all', 'has_none', 'is_empty'
] as const
export type RowFilterOp = typeof ROW_FILTER_OPS[number]

/** How each operator reads, for the dialog's choices and a schedule's card. */
export const ROW_FILTER_OP_LABELS: Record<RowFilterOp, string> = {
  eq: '=', ne: '≠', in: 'is one of', not_in: 'is none of', is_null: 'is empty', is_not_null: 'is not empty',
  lt: '<', lte: '≤', gt: '>', gte: '≥', between: 'is between',
  contains: 'contains', starts_with: 'starts with', ends_with: 'ends with',
  has_any: 'has any of', has_all: 'has all of', has_none: 'has none of', is_empty: 'has none'
}

/** The value an operator takes: none, one, two (low and high, inclusive) or a list of 1-1,000. */
export const OP_ARITY: Record<RowFilterOp, 'none' | 'one' | 'two' | 'many'> = {
  eq: 'one', ne: 'one', in: 'many', not_in: 'many', is_null: 'none', is_not_null: 'none',
  lt: 'one', lte: 'one', gt: 'one', gte: 'one', between: 'two',
  contains: 'one', starts_with: 'one', ends_with: 'one',
  has_any: 'many', has_all: 'many', has_none: 'many', is_empty: 'none'
}

export type ColumnKind = 'integer' | 'float' | 'decimal' | 'date' | 'timestamp' | 'text' | 'uuid' | 'boolean' | 'list'

const VALUE_OPS: RowFilterOp[] = ['eq', 'ne', 'in', 'not_in']
const NULL_OPS: RowFilterOp[] = ['is_null', 'is_not_null']
const ORDERED: RowFilterOp[] = [...VALUE_OPS, 'lt', 'lte', 'gt', 'gte', 'between', ...NULL_OPS]

/** Operators by kind of column. Lists are matched by their elements, never compared whole. */
export const OPS_BY_KIND: Record<ColumnKind, readonly RowFilterOp[]> = {
  integer: ORDERED,
  float: ORDERED,
  decimal: ORDERED,
  date: ORDERED,
  timestamp: ORDERED,
  text: [...VALUE_OPS, 'contains', 'starts_with', 'ends_with', ...NULL_OPS],
  uuid: [...VALUE_OPS, ...NULL_OPS],
  boolean: [...VALUE_OPS, ...NULL_OPS],
  list: ['has_any', 'has_all', 'has_none', 'is_empty', ...NULL_OPS]
}

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT'])
const DECIMAL_TYPE = /^DECIMAL\((\d+),(\d+)\)$/

/** The kind of a DuckDB type name as the manifest writes it; undefined for types no filter handles. */
export function columnKind(type: string): ColumnKind | undefined {
  if (type.endsWith('[]')) return columnKind(type.slice(0, -2)) && columnKind(type.slice(0, -2)) !== 'list' ? 'list' : undefined
  if (INTEGER_TYPES.has(type)) return 'integer'
  if (type === 'DOUBLE' || type === 'FLOAT' || type === 'REAL') return 'float'
  if (DECIMAL_TYPE.test(type)) return 'decimal'
  if (type === 'DATE') return 'date'
  if (type === 'TIMESTAMP' || type === 'TIMESTAMP WITH TIME ZONE') return 'timestamp'
  if (type === 'VARCHAR') return 'text'
  if (type === 'UUID') return 'uuid'
  if (type === 'BOOLEAN') return 'boolean'
  return undefined
}

export function opsForType(type: string): readonly RowFilterOp[] {
  const kind = columnKind(type)
  return kind ? OPS_BY_KIND[kind] : []
}

const Scalar = z.union([z.string(), z.number(), z.boolean()])
export type RowFilterScalar = z.infer<typeof Scalar>

/** One condition as the API takes it; whether it fits its column is checked by checkRowFilters. */
export const RowFilterSchema = z.strictObject({
  column: z.string('Must be a column name').min(1, 'Must be a column name').max(128, 'At most 128 characters'),
  op: z.enum(ROW_FILTER_OPS, `Must be one of: ${ROW_FILTER_OPS.join(', ')}`),
  value: z.union([Scalar, z.array(Scalar).max(MAX_FILTER_VALUES, `At most ${MAX_FILTER_VALUES} values`)], 'Must be a text, a number, a boolean or a list of them').optional()
}).meta({ id: 'RowFilter', description: 'A condition on a column: `value` is one value, `[low, high]` for between, a list for in/not_in/has_any/has_all/has_none, absent for is_null/is_not_null/is_empty' })

export type RowFilter = z.infer<typeof RowFilterSchema>

export const RowFiltersSchema = z.array(RowFilterSchema).max(MAX_ROW_FILTERS, `At most ${MAX_ROW_FILTERS} conditions`)

/** A column as a condition needs it: its name and DuckDB type. */
export interface FilterColumn { name: string, type: string }

/** `row_filters[2].op`: where a condition's problem is, as the 400 names it. */
export function rowFilterField(index: number, key?: 'column' | 'op' | 'value'): string {
  return `row_filters[${index}]${key ? `.${key}` : ''}`
}

/**
 * Checks each condition against its column and returns the conditions normalised (UUIDs in lower
 * case, repeated list values once, no value where the operator takes none), or the problems, each
 * naming its condition's field.
 */
export function checkRowFilters(datasetName: string, columns: readonly FilterColumn[], filters: readonly RowFilter[]): { filters: RowFilter[], errors: FieldError[] } {
  const byName = new Map(columns.map(c => [c.name, c]))
  const errors: FieldError[] = []
  const normalised = filters.map((filter, i) => {
    const column = byName.get(filter.column)
    if (!column) {
      errors.push({ field: rowFilterField(i, 'column'), message: `Not a column of ${datasetName}: ${JSON.stringify(filter.column.slice(0, 128))}` })
      return filter
    }
    const ops = opsForType(column.type)
    if (!ops.includes(filter.op)) {
      errors.push({ field: rowFilterField(i, 'op'), message: opMessage(filter.op, column, ops) })
      return filter
    }
    const checked = checkValue(filter.op, column.type, filter.value)
    if ('error' in checked) {
      errors.push({ field: rowFilterField(i, 'value'), message: checked.error })
      return filter
    }
    return { column: filter.column, op: filter.op, ...(checked.value === undefined ? {} : { value: checked.value }) }
  })
  return { filters: normalised, errors }
}

/** Whom an operator is for, in the refusal of a column it does not fit. */
const OP_AUDIENCE: Record<RowFilterOp, string> = {
  eq: 'single values', ne: 'single values', in: 'single values', not_in: 'single values',
  is_null: 'every column', is_not_null: 'every column',
  lt: 'numbers, decimals, dates and timestamps', lte: 'numbers, decimals, dates and timestamps',
  gt: 'numbers, decimals, dates and timestamps', gte: 'numbers, decimals, dates and timestamps',
  between: 'numbers, decimals, dates and timestamps',
  contains: 'text columns', starts_with: 'text columns', ends_with: 'text columns',
  has_any: 'list columns', has_all: 'list columns', has_none: 'list columns', is_empty: 'list columns'
}

function opMessage(op: RowFilterOp, column: FilterColumn, ops: readonly RowFilterOp[]): string {
  if (!ops.length) return `${column.name} is ${column.type}, which row filters do not support`
  return `\`${op}\` is for ${OP_AUDIENCE[op]}; ${column.name} is ${column.type}: use ${ops.join(', ')}`
}

type Checked = { value: RowFilter['value'] } | { error: string }
type CheckedScalar = { value: RowFilterScalar } | { error: string }

/** The value, normalised, or why it does not fit the operator and column. */
function checkValue(op: RowFilterOp, type: string, value: unknown): Checked {
  const arity = OP_ARITY[op]
  if (arity === 'none') return value === undefined || value === null ? { value: undefined } : { error: `\`${op}\` takes no value` }
  const element = type.endsWith('[]') ? type.slice(0, -2) : type
  if (arity === 'one') {
    if (Array.isArray(value) || value === undefined || value === null) return { error: `\`${op}\` takes one value` }
    return checkScalar(element, value)
  }
  const twoMessage = '`between` takes a list of two values: [low, high]'
  const manyMessage = `\`${op}\` takes a list of 1 to ${MAX_FILTER_VALUES} values`
  if (!Array.isArray(value)) return { error: arity === 'two' ? twoMessage : manyMessage }
  if (arity === 'two' && value.length !== 2) return { error: twoMessage }
  if (!value.length || value.length > MAX_FILTER_VALUES) return { error: manyMessage }
  const values: RowFilterScalar[] = []
  for (const [i, v] of value.entries()) {
    const one = checkScalar(element, v)
    if ('error' in one) return { error: `Value ${i + 1}: ${one.error}` }
    values.push(one.value)
  }
  if (arity === 'two') {
    return compareValues(element, values[0]!, values[1]!) > 0 ? { error: 'The low value is above the high value' } : { value: values }
  }
  return { value: [...new Map(values.map(v => [JSON.stringify(v), v])).values()] }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$/
const NUMERIC = /^-?\d+(\.\d+)?$/
const INTEGER = /^-?\d+$/

function checkScalar(type: string, value: unknown): CheckedScalar {
  const ok = (valid: boolean, error: string, normalised = value): CheckedScalar => valid ? { value: normalised as RowFilterScalar } : { error }
  if (typeof value === 'string' && value.includes('\0')) return { error: 'Must not contain NUL characters' }
  switch (columnKind(type)) {
    case 'text':
      if (typeof value !== 'string') return { error: 'Must be text' }
      return ok(value.length <= MAX_FILTER_TEXT, `At most ${MAX_FILTER_TEXT} characters`)
    case 'uuid':
      return isUuid(value) ? { value: value.toLowerCase() } : { error: 'Must be a UUID' }
    case 'boolean':
      return ok(typeof value === 'boolean', 'Must be true or false')
    case 'date':
      return ok(typeof value === 'string' && isCalendarDate(value), 'Must be a date as YYYY-MM-DD')
    case 'timestamp':
      return ok(typeof value === 'string' && TIMESTAMP.test(value) && isCalendarDate(value.slice(0, 10)), 'Must be a date-time as YYYY-MM-DDTHH:MM:SS')
    case 'integer': {
      const text = numberText(value)
      return ok(text !== undefined && INTEGER.test(text) && text.length <= 20, 'Must be a whole number')
    }
    case 'float': {
      const text = numberText(value)
      return ok(text !== undefined && NUMERIC.test(text) && text.length <= 40, 'Must be a number')
    }
    case 'decimal': {
      const [, precision, scale] = DECIMAL_TYPE.exec(type)!.map(Number)
      const text = numberText(value)
      const message = `Must be a number with at most ${precision! - scale!} digits before the point and ${scale} after it`
      if (text === undefined || !NUMERIC.test(text)) return { error: message }
      const [whole, fraction = ''] = text.replace('-', '').split('.')
      return ok(whole!.replace(/^0+(?=\d)/, '').length <= precision! - scale! && fraction.length <= scale!, message)
    }
    default:
      return { error: `The column's type ${type} is not supported` }
  }
}

/** A number's plain decimal text (no exponent), or a string as given. */
function numberText(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined
  return typeof value === 'string' ? value : undefined
}

function isCalendarDate(value: string): boolean {
  if (!DATE.test(value)) return false
  const date = new Date(`${value}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value)
}

function compareValues(type: string, a: RowFilterScalar, b: RowFilterScalar): number {
  const kind = columnKind(type)
  if (kind === 'integer' || kind === 'float' || kind === 'decimal') return Number(a) - Number(b)
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0
}

/** "amount < −100", "merchant contains “Amazon”", "currency is one of EUR, GBP": a condition in words. */
export function describeRowFilter(filter: RowFilter): string {
  const label = ROW_FILTER_OP_LABELS[filter.op]
  const show = (v: RowFilterScalar) => typeof v === 'string' && !NUMERIC.test(v) ? `“${v}”` : String(v).replace(/^-/, '−')
  const value = filter.value
  if (value === undefined) return `${filter.column} ${label}`
  if (filter.op === 'between' && Array.isArray(value)) return `${filter.column} ${label} ${show(value[0]!)} and ${show(value[1]!)}`
  return `${filter.column} ${label} ${Array.isArray(value) ? value.map(show).join(', ') : show(value)}`
}

/** The conditions in words, joined as the schedule card shows them. */
export function describeRowFilters(filters: readonly RowFilter[]): string {
  return filters.map(describeRowFilter).join(' · ')
}
