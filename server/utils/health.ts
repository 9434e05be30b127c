import { Readiness } from '../lib/health'
import { logFn } from '../lib/log'
import { checkBucket } from '../lib/storage/s3'

let readiness: Readiness<'database' | 'warehouse' | 'storage'> | undefined

/**
 * The process's readiness probes over its context, each result reused for a few seconds
 * (server/lib/health.ts): what `/api/health/ready` and `/api/health` report.
 */
export async function useReadiness(): Promise<Readiness<'database' | 'warehouse' | 'storage'>> {
  const context = await useAppContext()
  readiness ??= new Readiness({
    database: () => context.db.$queryRaw`SELECT 1`,
    warehouse: async () => {
      const connection = await context.warehouse.connect()
      try {
        await connection.run('SELECT count(*) FROM transactions LIMIT 1')
      } finally {
        connection.closeSync()
      }
    },
    storage: () => checkBucket(context.storage)
  }, { log: logFn(useLog().child({ component: 'health' })) })
  return readiness
}
