import { checkBucket } from '../lib/storage/s3'

type Check = { ok: true } | { ok: false, error: string }

/**
 * The reason goes to the log, not to the anonymous caller: driver messages name hosts, ports and
 * paths.
 */
async function check(name: string, run: () => Promise<unknown>): Promise<Check> {
  try {
    await run()
    return { ok: true }
  } catch (error) {
    console.warn(`[outport] health: ${name} unavailable: ${error instanceof Error ? error.message : String(error)}`)
    return { ok: false, error: `${name} unavailable` }
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
    check('database', () => context.db.$queryRaw`SELECT 1`),
    check('warehouse', async () => {
      const connection = await context.warehouse.connect()
      try {
        await connection.run('SELECT count(*) FROM transactions LIMIT 1')
      } finally {
        connection.closeSync()
      }
    }),
    check('storage', () => checkBucket(context.storage))
  ])
  const ok = database.ok && warehouse.ok && storage.ok
  setResponseStatus(event, ok ? 200 : 503)
  return { status: ok ? 'ok' : 'degraded', checks: { database, warehouse, storage } }
})
