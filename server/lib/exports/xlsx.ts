import { createWriteStream } from 'node:fs'
import type { Worksheet } from 'exceljs'
import type { DuckDBConnection } from '@duckdb/node-api'
import type { OutputColumn, QueryParams } from '../warehouse/query'
import { EXPORT_FORMATS } from '#shared/types/formats'
import { ExportCancelled, ExportFailure } from './errors'

export interface XlsxOptions {
  /** The sheet's name (the dataset's); Excel allows 31 characters. */
  sheetName: string
  signal?: AbortSignal
  /** Told the number of rows written after each chunk. */
  onRows?: (written: number) => void
  /** Data rows a sheet holds; tests lower it. */
  maxRows?: number
  /** The values of the query's placeholders (its row filters'). */
  params?: QueryParams
}

const DAY_MS = 86_400_000

type CellKind = 'date' | 'money' | 'integer' | 'number' | 'text'

function cellKind(type: string): CellKind {
  if (type === 'DATE') return 'date'
  if (/^DECIMAL\(\d+,2\)$/.test(type)) return 'money'
  if (/^(BIGINT|INTEGER|SMALLINT|TINYINT|HUGEINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT)$/.test(type)) return 'integer'
  if (type === 'DOUBLE' || type === 'FLOAT' || type.startsWith('DECIMAL')) return 'number'
  return 'text'
}

/**
 * What the query hands the writer, chosen so that every value arrives as a JS number or string:
 * dates as days since 1970 (a Date is built from them), decimals and counts as doubles (what
 * Excel stores anyway: money stays exact to the cent below 2^53 cents). Everything else is text.
 */
function selectExpression(column: OutputColumn, kind: CellKind): string {
  const name = `q."${column.name}"`
  if (kind === 'date') return `CAST(date_diff('day', DATE '1970-01-01', ${name}) AS DOUBLE)`
  if (kind === 'text') return `CAST(${name} AS VARCHAR)`
  return `CAST(${name} AS DOUBLE)`
}

const NUM_FMT: Record<CellKind, string | undefined> = { date: 'yyyy-mm-dd', money: '0.00', integer: '0', number: undefined, text: undefined }
const WIDTH: Record<CellKind, number> = { date: 12, money: 14, integer: 12, number: 14, text: 24 }

/**
 * Writes the query's rows as an Excel workbook: exceljs's streaming writer, fed chunk by chunk from
 * DuckDB's streamed result, so neither side holds the whole result (each committed row is zipped
 * and written to the file). One sheet named after the dataset, a bold frozen header row with an
 * autofilter, typed cells. Strings are stored as inline text, never as formulas, so the CSV
 * formula guard is not needed here and the data is unaltered.
 * Returns the number of data rows.
 */
export async function writeXlsx(connection: DuckDBConnection, sql: string, columns: readonly OutputColumn[], path: string, opts: XlsxOptions): Promise<number> {
  const kinds = columns.map(c => cellKind(c.type))
  const maxRows = opts.maxRows ?? EXPORT_FORMATS.xlsx.maxRows ?? Number.POSITIVE_INFINITY
  // Imported here, not at the top: most servers never write Excel, and exceljs is part of what
  // an idle server saved by loading such libraries on first use (BENCHMARKS.md).
  const { default: ExcelJS } = await import('exceljs')
  // The file's stream is ours so that its failure (no such folder, a full disk) fails the export:
  // exceljs listens for it only while committing, and a failure before that left the commit
  // waiting forever.
  const file = createWriteStream(path)
  let failure: Error | undefined
  const failed = new Promise<never>((_, reject) => file.on('error', (error) => {
    failure = error
    reject(error)
  }))
  failed.catch(() => {})
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: file, useStyles: true, useSharedStrings: false })
  const sheet = workbook.addWorksheet(sheetName(opts.sheetName), { views: [{ state: 'frozen', ySplit: 1 }] })
  sheet.columns = columns.map((c, i) => ({
    header: c.name,
    key: c.name,
    width: Math.max(WIDTH[kinds[i]!], Math.min(40, c.name.length + 4)),
    ...(NUM_FMT[kinds[i]!] && { style: { numFmt: NUM_FMT[kinds[i]!] } })
  }))
  const header = sheet.getRow(1)
  header.font = { bold: true }
  sheet.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: columns.length } }
  header.commit()
  const intake = zipIntake(sheet)

  const result = await connection.stream(`SELECT ${columns.map((c, i) => `${selectExpression(c, kinds[i]!)} AS "${c.name}"`).join(', ')} FROM (${sql}) AS q`, opts.params?.values, opts.params?.types)
  let written = 0
  for (;;) {
    if (opts.signal?.aborted) throw new ExportCancelled()
    const chunk = await result.fetchChunk()
    if (!chunk || chunk.rowCount === 0) break
    if (written + chunk.rowCount > maxRows) throw tooManyRows(maxRows)
    for (const row of chunk.getRows()) {
      const values = row.map((value, i) => {
        if (value === null || value === undefined) return null
        return kinds[i] === 'date' ? new Date((value as number) * DAY_MS) : value
      })
      sheet.addRow(values).commit()
    }
    written += chunk.rowCount
    opts.onRows?.(written)
    await zipCaughtUp(intake, () => failure, opts.signal)
  }
  sheet.commit()
  await Promise.race([workbook.commit(), failed])
  return written
}

/**
 * Creation refuses an Excel export that would not fit, but a schedule's later runs, or data that
 * grew since, can still reach the limit; a workbook past it would not open, so the run fails.
 */
function tooManyRows(maxRows: number): ExportFailure {
  return new ExportFailure('TOO_MANY_ROWS', `This export has more rows than an Excel sheet holds (${maxRows.toLocaleString('en-US')} after the header). Choose CSV or Parquet, narrow the filters, or set a limit.`, false)
}

/** How much uncompressed sheet XML may wait for the zip's deflate before rows stop coming. */
const MAX_ZIP_BACKLOG = 4 * 1024 * 1024

interface ZipIntake {
  _writableState: { length: number }
}

/**
 * exceljs (4.4.0, pinned) writes each committed row's XML into the zip entry's PassThrough and
 * ignores its back-pressure, so when DuckDB hands rows faster than deflate compresses them the
 * uncompressed XML piles up in memory (a 1M-row sheet peaked at 470 MB of buffers). This finds
 * that PassThrough so the writer can wait for it; the shape is checked here, and by the tests,
 * so an upgrade that changes it fails loudly instead of quietly losing flat memory.
 */
function zipIntake(sheet: Worksheet): ZipIntake {
  const pipes: unknown = Reflect.get(Reflect.get(sheet, 'stream') ?? {}, 'pipes')
  const intake: unknown = Array.isArray(pipes) ? pipes[0] : undefined
  if (!isZipIntake(intake)) throw new Error('exceljs internals changed: the sheet stream has no zip entry to wait for')
  return intake
}

function isZipIntake(value: unknown): value is ZipIntake {
  return typeof value === 'object' && value !== null && typeof Reflect.get(Reflect.get(value, '_writableState') ?? {}, 'length') === 'number'
}

/** Polls rather than waiting for 'drain', so a cancelled or failed export stops within milliseconds. */
async function zipCaughtUp(intake: ZipIntake, failure: () => Error | undefined, signal: AbortSignal | undefined): Promise<void> {
  for (;;) {
    const error = failure()
    if (error) throw error
    if (intake._writableState.length <= MAX_ZIP_BACKLOG) break
    if (signal?.aborted) throw new ExportCancelled()
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  // Let the file stream write what the zip produced.
  await new Promise(resolve => setImmediate(resolve))
}

/** Excel sheet names: at most 31 characters, none of : \ / ? * [ ]. */
function sheetName(name: string): string {
  return name.replace(/[:\\/?*[\]]/g, '_').slice(0, 31) || 'Sheet1'
}
