/**
 * `npx tsx bench/preview.ts [--users 10] [--transactions 1000000]`: the preview's latency
 * (POST /api/analytics/exports/preview's engine function) on a warehouse of users × transactions
 * rows, for one user's whole history in several formats. Prints p50/p95 per request shape.
 * Builds its warehouse under .data/bench-preview (kept between runs: delete it to rebuild).
 */
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Db } from '../server/lib/db/client'
import { previewExport } from '../server/lib/exports/preview'
import { DATASETS } from '../server/lib/warehouse/datasets'
import { buildWarehouse, planDemo } from '../server/lib/warehouse/demo'
import { WarehouseReader } from '../server/lib/warehouse/reader'
import { CreateExportSchema, type CreateExportInput } from '../shared/types/exports'

const { values } = parseArgs({ options: { users: { type: 'string', default: '10' }, transactions: { type: 'string', default: '1000000' }, reps: { type: 'string', default: '20' } } })
const users = Number(values.users)
const transactions = Number(values.transactions)
const reps = Number(values.reps)
const dir = join(process.cwd(), '.data', 'bench-preview')
const path = join(dir, `warehouse-${users}x${transactions}.duckdb`)
const plan = planDemo({ users, transactions, seed: 1 })

await mkdir(dir, { recursive: true })
if (!existsSync(path)) {
  const started = performance.now()
  await buildWarehouse(path, plan, 1)
  console.error(`built ${users} × ${transactions.toLocaleString('en')} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`)
}
// The server's defaults: DUCKDB_MEMORY_LIMIT / threads unset.
const warehouse = new WarehouseReader(path)
const workDir = join(dir, 'work')
const noDb = {} as Db
const limits = { EXPORT_MAX_ACTIVE_PER_USER: 3, EXPORT_MAX_QUEUE_DEPTH: 100, EXPORT_MAX_RANGE_DAYS: undefined }
const [TX, DAILY] = DATASETS
const shapes: Array<[string, CreateExportInput]> = [
  ['transactions csv', { dataset_id: TX!.id, format: 'csv' }],
  ['transactions csv gzip', { dataset_id: TX!.id, format: 'csv', compression: 'gzip' }],
  ['transactions parquet', { dataset_id: TX!.id, format: 'parquet' }],
  ['transactions jsonl zstd', { dataset_id: TX!.id, format: 'jsonl', compression: 'zstd' }],
  ['transactions xlsx, 1 year', { dataset_id: TX!.id, format: 'xlsx', start_date: '2025-01-01', end_date: '2025-12-31' }],
  ['transactions csv, limit 1000', { dataset_id: TX!.id, format: 'csv', limit: 1000 }],
  ['daily by tag parquet', { dataset_id: DAILY!.id, format: 'parquet' }]
]
const p = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
try {
  for (const [name, body] of shapes) {
    const request = CreateExportSchema.parse(body)
    const times: number[] = []
    let rows = 0
    for (let i = 0; i < reps + 2; i++) {
      const t0 = performance.now()
      const result = await previewExport({ db: noDb, warehouse, workDir }, limits, plan[0]!.user_id, request)
      // The first two warm the instance and the OS cache.
      if (i >= 2) times.push(performance.now() - t0)
      rows = result.row_count
    }
    times.sort((a, b) => a - b)
    const p95 = p(times, 0.95)
    console.log(`${name} (${rows.toLocaleString('en')} rows of ${(users * transactions).toLocaleString('en')}): p50 ${p(times, 0.5).toFixed(0)} ms, p95 ${p95.toFixed(0)} ms (target p95 ≤ 300 ms: ${p95 <= 300 ? 'pass' : 'MISS'})`)
  }
} finally {
  warehouse.close()
  await rm(workDir, { recursive: true, force: true })
}
