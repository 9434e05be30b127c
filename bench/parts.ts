/**
 * `npm run bench:parts`: a big CSV export as one file against the same export in parts, in one run
 * against the same s3rver and warehouse, through the engine's own runExport (the worker's path,
 * upload on this thread). `BENCH_SIZE` rows (default 10M), `BENCH_PART_MB` (default 256),
 * `BENCH_REPS` (default 2, alternating one file and parts). Prints one line per run: seconds, the
 * number of parts, the peak bytes of part files on the work disk (held ≤ 2 × part + 8 MiB), and at
 * the end the medians and their ratio (the issue's target: parts no slower than one file). Then the
 * last parts export's "Download all" ZIP is streamed from S3 and thrown away, with this process's
 * RSS above what it was before (target ≤ 64 MB: flat, whatever the set's size; s3rver runs in this
 * process too, so the figure is an upper bound).
 */
import { readFileSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { loadConfig } from '../server/lib/config'
import { createDb } from '../server/lib/db/client'
import { seedDemo } from '../server/lib/demo-seed'
import type { ExportJob } from '../server/lib/exports/jobs/record'
import { runExport } from '../server/lib/exports/run'
import { exportZip } from '../server/lib/exports/zip'
import { S3RVER_CREDENTIALS, startS3rver } from '../server/lib/local/s3rver'
import { createStorage } from '../server/lib/storage/s3'
import { DATASETS } from '../server/lib/warehouse/datasets'
import { WarehouseReader } from '../server/lib/warehouse/reader'
import { resolveExportOptions, type ExportMetadata } from '../shared/types/exports'
import { createTestDatabase } from '../tests/helpers/database'
import { freePort } from '../tests/helpers/server'
import { median } from './report'

const DIR = process.env.BENCH_DIR ?? join(process.cwd(), '.data', 'bench-parts')
const SIZE = Number(process.env.BENCH_SIZE ?? 10_000_000)
const PART_MB = Number(process.env.BENCH_PART_MB ?? 256)
const REPS = Number(process.env.BENCH_REPS ?? 2)
const BUCKET = 'outport-bench'
const TRANSACTIONS = DATASETS[0]!
const MiB = 1024 * 1024

async function main() {
  await rm(DIR, { recursive: true, force: true })
  await mkdir(DIR, { recursive: true })
  const database = await createTestDatabase()
  const s3 = await startS3rver({ directory: join(DIR, 's3'), port: await freePort(), buckets: [BUCKET] })
  try {
    const config = loadConfig({
      DATABASE_URL: database.url, S3_EXPORTS_BUCKET: BUCKET, S3_ENDPOINT: s3.endpoint, WAREHOUSE_PATH: 'unused',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey
    })
    const storage = createStorage(config)
    const path = join(DIR, 'warehouse.duckdb')
    const db = createDb(database.url, { max: 2 })
    const demo = await seedDemo(db, path, { users: 1, transactions: SIZE, seed: 1 })
    await db.$disconnect()
    // The server's DuckDB settings.
    const warehouse = new WarehouseReader(path, { memoryLimit: config.DUCKDB_MEMORY_LIMIT, threads: config.DUCKDB_THREADS, spillRoot: join(DIR, 'spill') })
    const base: ExportMetadata = {
      dataset_id: TRANSACTIONS.id, dataset_name: TRANSACTIONS.name, format: 'csv',
      filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] },
      ...resolveExportOptions({ format: 'csv' })
    }
    const times: Record<'one file' | 'parts', number[]> = { 'one file': [], 'parts': [] }
    let lastParts: ExportJob | undefined
    let job = 0
    for (let rep = 0; rep < REPS; rep++) {
      for (const kind of ['one file', 'parts'] as const) {
        const metadata = kind === 'parts' ? { ...base, max_part_mb: PART_MB } : base
        let peak = 0
        const t0 = performance.now()
        const result = await runExport({ id: `00000000-0000-4000-8000-${String(++job).padStart(12, '0')}`, userId: demo.users[0]!.user_id, metadata }, {
          warehouse, storage, workDir: join(DIR, 'work'), signal: new AbortController().signal, onProgress: () => {},
          onWorkBytes: (bytes) => {
            peak = Math.max(peak, bytes)
          }
        })
        const seconds = (performance.now() - t0) / 1000
        times[kind].push(seconds)
        if (kind === 'parts') lastParts = { id: `00000000-0000-4000-8000-${String(job).padStart(12, '0')}`, userId: demo.users[0]!.user_id, status: 'completed', completedAt: new Date(), metadata: { ...metadata, ...result } } as ExportJob
        const parts = result.parts?.length ?? 1
        console.log(`${SIZE.toLocaleString('en-US')} rows csv, ${kind}${kind === 'parts' ? ` of ${PART_MB} MiB` : ''}: ${seconds.toFixed(2)} s, ${(result.file_size_bytes / MiB).toFixed(0)} MiB in ${parts} file${parts === 1 ? '' : 's'}${kind === 'parts' ? `, peak work disk ${(peak / MiB).toFixed(0)} MiB (bound ${2 * PART_MB + 8} MiB)` : ''}`)
      }
    }
    const one = median(times['one file'])
    const parted = median(times.parts)
    console.log(`median: one file ${one.toFixed(2)} s, parts ${parted.toFixed(2)} s, parts / one file = ${(parted / one).toFixed(2)} (target ≤ 1.00)`)
    if (lastParts) {
      const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024
      global.gc?.()
      const idle = rss()
      let peak = idle
      let bytes = 0
      const sampler = setInterval(() => {
        peak = Math.max(peak, rss())
      }, 50)
      const t0 = performance.now()
      await pipeline(exportZip(storage, lastParts as Parameters<typeof exportZip>[1], new AbortController().signal), new Writable({
        write(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length
          callback()
        }
      }))
      clearInterval(sampler)
      console.log(`ZIP of ${lastParts.metadata.parts!.length} parts: ${(bytes / MiB).toFixed(0)} MiB in ${((performance.now() - t0) / 1000).toFixed(2)} s, RSS ${((peak - idle) / MiB).toFixed(0)} MiB above idle (target ≤ 64 MB)`)
    }
    warehouse.close()
  } finally {
    await s3.stop()
    await database.drop()
    await rm(DIR, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
