import { checkBucket } from '../lib/storage/s3'

type Check = { ok: true } | { ok: false, error: string }

async function check(run: () => Promise<unknown>): Promise<Check> {
  try {
    await run()
    return { ok: true }
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) }
  }
}

/** Unauthenticated: database, warehouse and storage reachable. 503 when any is not. */
export default defineEventHandler(async (event) => {
  const context = await useAppContext().catch((error: Error) => error)
  if (context instanceof Error) {
    setResponseStatus(event, 503)
    // Configuration errors name variables, never their values.
    return { status: 'error', error: context.message }
  }
  const [database, warehouse, storage] = await Promise.all([
    check(() => context.db.$queryRaw`SELECT 1`),
    check(async () => {
      const connection = await context.warehouse.connect()
      try {
        await connection.run('SELECT count(*) FROM transactions LIMIT 1')
      } finally {
        connection.closeSync()
      }
    }),
    check(() => checkBucket(context.storage))
  ])
  const ok = database.ok && warehouse.ok && storage.ok
  setResponseStatus(event, ok ? 200 : 503)
  return { status: ok ? 'ok' : 'degraded', checks: { database, warehouse, storage } }
})
