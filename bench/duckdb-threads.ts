/**
 * `npx tsx bench/duckdb-threads.ts`: what changing DuckDB's thread count costs queries that are
 * running (issue 29, part 1). On one warehouse of 10 users × 1M transactions, four 1M-row Parquet
 * COPYs: one after another on 2 threads; two at a time on 1 thread each; and two at a time while
 * another connection flips `threads` between 1 and 2 every 300 ms, as the worker did whenever an
 * export started or ended. Prints the three times; asserts nothing.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { createDb } from '../server/lib/db/client'
import { seedDemo } from '../server/lib/demo-seed'
import { exportQuery } from '../server/lib/exports/run'
import { DATASETS } from '../server/lib/warehouse/datasets'
import { resolveExportOptions, type ExportMetadata } from '../shared/types/exports'
import { createTestDatabase } from '../tests/helpers/database'

const DIR = process.env.BENCH_DIR ?? join(process.cwd(), '.data', 'bench-threads')
const TX = DATASETS[0]!
const database = await createTestDatabase()
const db = createDb(database.url, { max: 2 })
const path = join(DIR, 'warehouse.duckdb')
await rm(DIR, { recursive: true, force: true })
const demo = await seedDemo(db, path, { users: 10, transactions: 1_000_000, seed: 1 })
await db.$disconnect()

const metadata: ExportMetadata = { dataset_id: TX.id, dataset_name: TX.name, format: 'parquet', filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }, ...resolveExportOptions({ format: 'parquet' }) }
const copy = (userIndex: number, file: string) => `COPY (${exportQuery(TX, demo.users[userIndex]!.user_id, metadata)}) TO '${join(DIR, file)}' (FORMAT parquet)`
// The server's defaults: 192MB, two threads on this machine.
const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY', memory_limit: process.env.DUCKDB_MEMORY_LIMIT ?? '192MB', threads: '2' })
const [a, b, flipper] = await Promise.all([instance.connect(), instance.connect(), instance.connect()])
await a.run(copy(0, 'warm.parquet'))

const timed = async (run: () => Promise<unknown>) => {
  const t0 = performance.now()
  await run()
  return performance.now() - t0
}
const pairs = (first: number) => Promise.all([a, b].map(async (connection, k) => {
  for (let i = 0; i < 2; i++) await connection.run(copy(first + k * 2 + i, `pair${k}.parquet`))
}))

const serial = await timed(async () => {
  for (let i = 0; i < 4; i++) await a.run(copy(i, 'serial.parquet'))
})
await a.run('SET threads = 1')
const concurrent = await timed(() => pairs(4))
let flips = 0
let flipping = true
const flipped = await timed(async () => {
  const loop = (async () => {
    while (flipping) {
      await flipper.run(`SET threads = ${flips++ % 2 ? 1 : 2}`)
      await new Promise(resolve => setTimeout(resolve, 300))
    }
  })()
  await pairs(6)
  flipping = false
  await loop
})
console.log(`four 1M-row parquet COPYs, one after another on 2 threads: ${serial.toFixed(0)} ms`)
console.log(`two at a time, 1 thread each: ${concurrent.toFixed(0)} ms`)
console.log(`two at a time while the thread count flips 1 <-> 2 (${flips} changes): ${flipped.toFixed(0)} ms`)
for (const c of [a, b, flipper]) c.closeSync()
instance.closeSync()
await database.drop()
await rm(DIR, { recursive: true, force: true })
