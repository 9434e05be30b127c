/**
 * `npx tsx bench/xlsx-memory.ts [warehouse.duckdb]`: one 1M-row Excel file written the way the
 * worker writes it (DuckDB's streamed result → exceljs's streaming writer → work file), with this
 * process's peak RSS (VmHWM) and the time taken. Uses the preview benchmark's warehouse
 * (`bench/preview.ts` builds it: 10 users × 1M transactions).
 */
import { readFileSync } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { exportQuery, projectionFor } from '../server/lib/exports/run'
import { writeXlsx } from '../server/lib/exports/xlsx'
import { DATASETS } from '../server/lib/warehouse/datasets'
import { planDemo } from '../server/lib/warehouse/demo'
import { outputColumns } from '../server/lib/warehouse/query'
import { WarehouseReader } from '../server/lib/warehouse/reader'
import { resolveExportOptions, type ExportMetadata } from '../shared/types/exports'

const path = process.argv[2] ?? join('.data', 'bench-preview', 'warehouse-10x1000000.duckdb')
const user = planDemo({ users: 10, transactions: 1_000_000, seed: 1 })[0]!
const TX = DATASETS[0]!
const metadata: ExportMetadata = {
  dataset_id: TX.id, dataset_name: TX.name, format: 'xlsx',
  filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] },
  ...resolveExportOptions({ format: 'xlsx' })
}
const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0)
// The server's DuckDB settings (config defaults).
const warehouse = new WarehouseReader(path, { memoryLimit: process.env.DUCKDB_MEMORY_LIMIT ?? '192MB' })
const connection = await warehouse.connect()
const file = join('.data', 'bench-preview', 'memory.xlsx')
let peakLive = 0
let atPeak = ''
const sampler = setInterval(() => {
  const rss = kb('VmRSS')
  if (rss <= peakLive) return
  peakLive = rss
  const m = process.memoryUsage()
  atPeak = `V8 heap ${(m.heapTotal / 2 ** 20).toFixed(0)} (${(m.heapUsed / 2 ** 20).toFixed(0)} used), external ${(m.external / 2 ** 20).toFixed(0)} MB`
}, 50)
const t0 = performance.now()
const rows = await writeXlsx(connection, exportQuery(TX, user.user_id, metadata), outputColumns(TX, projectionFor(metadata)), file, { sheetName: TX.name })
const seconds = (performance.now() - t0) / 1000
clearInterval(sampler)
console.log(`${rows.toLocaleString('en')} rows, ${((await stat(file)).size / 2 ** 20).toFixed(0)} MiB, ${seconds.toFixed(1)} s, peak RSS ${(kb('VmHWM') / 1024).toFixed(0)} MB (sampled ${(peakLive / 1024).toFixed(0)} MB; there, ${atPeak})`)
connection.closeSync()
warehouse.close()
await rm(file, { force: true })
