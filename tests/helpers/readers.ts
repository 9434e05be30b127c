import Papa from 'papaparse'
import { readParquet } from 'parquet-wasm'
import { tableFromIPC, type Table } from 'apache-arrow'

/**
 * Independent readers for exported files, normalising every value to a plain string (lists to
 * arrays of strings), so a file can be compared cell by cell with a direct DuckDB query.
 */

export type Cell = string | null | Cell[]
export type Row = Record<string, Cell>

export function parseCsv(text: string): { fields: string[], rows: Record<string, string>[] } {
  const result = Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: true })
  if (result.errors.length) throw new Error(`CSV parse errors: ${JSON.stringify(result.errors.slice(0, 3))}`)
  return { fields: result.meta.fields ?? [], rows: result.data }
}

export function parquetTable(bytes: Uint8Array): Table {
  return tableFromIPC(readParquet(bytes).intoIPCStream())
}

export function readParquetRows(bytes: Uint8Array): { table: Table, rows: Row[] } {
  const table = parquetTable(bytes)
  const columns = table.schema.fields.map(field => ({ name: field.name, type: field.type, vector: table.getChild(field.name)! }))
  const rows: Row[] = []
  for (let i = 0; i < table.numRows; i++) {
    const row: Row = {}
    for (const column of columns) row[column.name] = arrowCell(column.vector.get(i), column.type)
    rows.push(row)
  }
  return { table, rows }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function arrowCell(value: any, type: any): Cell {
  if (value === null || value === undefined) return null
  const typeName = String(type)
  if (typeName.startsWith('List')) return [...value].map((v: unknown) => arrowCell(v, type.children[0].type))
  if (typeName.startsWith('FixedSizeBinary[16]')) return uuidFromBytes(value as Uint8Array)
  if (typeName.startsWith('Decimal')) return scaleDecimal(String(value), type.scale)
  if (typeName.startsWith('Date')) return new Date(Number(value)).toISOString().slice(0, 10)
  return String(value)
}

function uuidFromBytes(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

function scaleDecimal(unscaled: string, scale: number): string {
  const negative = unscaled.startsWith('-')
  const digits = (negative ? unscaled.slice(1) : unscaled).padStart(scale + 1, '0')
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits
  return negative ? `-${text}` : text
}

/** Rows from DuckDB's JSON conversion, normalised the same way. */
export function normaliseJsonRow(row: Record<string, unknown>): Row {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, normaliseJson(v)]))
}

function normaliseJson(value: unknown): Cell {
  if (value === null || value === undefined) return null
  if (Array.isArray(value)) return value.map(normaliseJson)
  return String(value)
}
