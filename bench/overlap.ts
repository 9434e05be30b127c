/**
 * `npm run bench:overlap`: how to overlap DuckDB's writer with the upload, measured in one process
 * against the same s3rver: the sequential floor (COPY to a file, then the SDK's own multipart
 * upload), the file uploaded while DuckDB writes it (what runExport does), and DuckDB writing
 * into a named pipe that the upload reads (no work file at all). `BENCH_SIZE` rows (default 5M),
 * `BENCH_CASES=csv,jsonl,parquet` (format[:compression]). Prints one line per case and repetition.
 */
import { execFileSync } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { mkdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Upload } from '@aws-sdk/lib-storage'
import { loadConfig } from '../server/lib/config'
import { createDb } from '../server/lib/db/client'
import { lowerOtherThreads } from '../server/lib/exports/priority'
import { seedDemo } from '../server/lib/demo-seed'
import { copyStatement, exportQuery } from '../server/lib/exports/run'
import { S3RVER_CREDENTIALS, startS3rver } from '../server/lib/local/s3rver'
import { createStorage, UNSIGNED_PARTS, uploadGrowingFile, uploadStream } from '../server/lib/storage/s3'
import { DATASETS } from '../server/lib/warehouse/datasets'
import { openWarehouse } from '../server/lib/warehouse/duckdb'
import { resolveExportOptions, type ExportMetadata } from '../shared/types/exports'
import type { Compression, ExportFormat } from '../shared/types/formats'
import { createTestDatabase } from '../tests/helpers/database'
import { freePort } from '../tests/helpers/server'

const DIR = process.env.BENCH_DIR ?? join(process.cwd(), '.data', 'bench-overlap')
const SIZE = Number(process.env.BENCH_SIZE ?? 5_000_000)
const CASES = (process.env.BENCH_CASES ?? 'csv,jsonl,parquet').split(',')
const REPS = Number(process.env.BENCH_REPS ?? 2)
const BUCKET = 'outport-bench'
const TRANSACTIONS = DATASETS[0]!
const PART = { partSize: 8 * 1024 * 1024, queueSize: 3 }

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
    const sdk = createStorage(config).client
    sdk.middlewareStack.remove(UNSIGNED_PARTS)
    const warehouse = join(DIR, 'warehouse.duckdb')
    const db = createDb(database.url, { max: 2 })
    const demo = await seedDemo(db, warehouse, { users: 1, transactions: SIZE, seed: 1 })
    await db.$disconnect()
    const instance = await openWarehouse(warehouse, { memoryLimit: config.DUCKDB_MEMORY_LIMIT, threads: config.DUCKDB_THREADS, tempDirectory: join(DIR, 'spill') })
    // BENCH_NICE=10: DuckDB's threads below this one (which sends the upload), as the server does.
    const nice = Number(process.env.BENCH_NICE ?? 0)
    for (const name of CASES) {
      const [format, compression = 'none'] = name.split(':') as [ExportFormat, Compression]
      const options = resolveExportOptions({ format, compression })
      const metadata: ExportMetadata = { dataset_id: TRANSACTIONS.id, dataset_name: TRANSACTIONS.name, format, filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] }, ...options }
      const copy = (path: string) => instance.connect().then(c => c.run(copyStatement(exportQuery(TRANSACTIONS, demo.users[0]!.user_id, metadata), path, format, options)).finally(() => c.closeSync()))
      const file = join(DIR, `export.${format}`)
      const seconds = async (work: () => Promise<unknown>) => {
        const t0 = performance.now()
        await work()
        return (performance.now() - t0) / 1000
      }
      for (let rep = 0; rep < REPS; rep++) {
        if (nice) lowerOtherThreads(new Set([process.pid]), nice)
        const copied = await seconds(() => copy(file))
        const mib = (await stat(file)).size / 2 ** 20
        const uploaded = await seconds(() => new Upload({ client: sdk, params: { Bucket: BUCKET, Key: 'floor', Body: createReadStream(file) }, ...PART }).done())
        await rm(file)
        const tailed = await seconds(() => uploadGrowingFile(storage, 'tail', { path: file, finished: copy(file) }, { contentType: 'application/octet-stream', ...PART }))
        await rm(file)
        execFileSync('mkfifo', [file])
        const piped = await seconds(async () => {
          const writing = copy(file)
          await uploadStream(storage, 'pipe', createReadStream(file, { highWaterMark: 1024 * 1024 }), { contentType: 'application/octet-stream', ...PART })
          await writing
        })
        await rm(file)
        const floor = copied + uploaded
        console.log(`${(SIZE / 1e6).toFixed(0)}M ${name} (${mib.toFixed(0)} MiB): COPY ${copied.toFixed(2)} s + SDK upload ${uploaded.toFixed(2)} s = ${floor.toFixed(2)} s | while written ${tailed.toFixed(2)} s (${(tailed / floor).toFixed(2)}) | through a pipe ${piped.toFixed(2)} s (${(piped / floor).toFixed(2)})`)
      }
    }
    instance.closeSync()
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
