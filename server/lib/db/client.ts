import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { PrismaClient } from '#server/generated/prisma/client'

/**
 * Prisma for most queries, and its pg pool for the few hot reads (token and job lookups on every
 * status poll) that are cheaper as prepared statements than through Prisma's query interpreter.
 */
export type Db = PrismaClient & { pool: pg.Pool }

export function createDb(databaseUrl: string, options: { max?: number } = {}): Db {
  const pool = new ResilientPool({ connectionString: databaseUrl, max: options.max ?? 10 })
  // An idle connection the server ended (restart, failover, a dropped database) is removed by the
  // pool and replaced on the next query. Without a listener the pool's 'error' event would throw
  // and end the process; Prisma adds one only once it has connected, and the prepared-statement
  // reads and the sign-in limits use this pool before (or without) Prisma.
  pool.on('error', (error: Error) => console.warn(`[outport] database: an idle connection closed: ${error.message}`))
  const client = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) })
  return Object.assign(client, { pool })
}

// admin_shutdown, crash_shutdown, cannot_connect_now: the server ended the session before the
// statement could commit.
const SESSION_ENDED = new Set(['57P01', '57P02', '57P03'])
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', '53300'])
// How Prisma's driver adapter reports the same failures (meta.driverAdapterError.cause.kind).
const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections'])
const RETRY_DELAYS_MS = [0, 25, 100]

/** Whether the connection died under the statement (rather than the statement itself failing). */
export function isConnectionLoss(error: unknown): boolean {
  const e = error as { code?: string, message?: string } | null
  if (!e) return false
  return SESSION_ENDED.has(e.code ?? '') || e.code === 'ECONNRESET' || e.code === 'EPIPE'
    || /Connection terminated|Client has encountered a connection error/i.test(e.message ?? '')
}

/**
 * Whether a failure means PostgreSQL cannot be reached or dropped the connection (an outage to wait
 * out), as opposed to a statement that failed. Looks through Prisma's wrapping and error causes.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let e = error as { code?: string, cause?: unknown, meta?: { driverAdapterError?: { cause?: { kind?: string, originalCode?: string } } } } | undefined
  for (let depth = 0; e && depth < 5; depth++, e = e.cause as typeof e) {
    if (isConnectionLoss(e) || UNREACHABLE_CODES.has(e.code ?? '')) return true
    const cause = e.meta?.driverAdapterError?.cause
    if (cause && (UNREACHABLE_KINDS.has(cause.kind ?? '') || SESSION_ENDED.has(cause.originalCode ?? ''))) return true
  }
  return false
}

/**
 * A pool whose standalone reads survive a dropped connection. A pooled connection that the server
 * ended (restart, failover, pg_terminate_backend) is only noticed when the next statement is sent
 * on it; pg then discards that client, so a read retried at once runs on a live one. Writes are
 * never retried here: whether one committed before the connection died cannot be known, and their
 * callers (the worker's lease-guarded updates) retry with that in mind.
 */
class ResilientPool extends pg.Pool {
  // pg's overloads (callbacks, submittables) pass straight through; only promise-style reads retry.
  override query(...args: unknown[]): never {
    const [config, values, callback] = args as [string | pg.QueryConfig, unknown, unknown]
    const text = typeof config === 'string' ? config : config?.text
    const run = () => (pg.Pool.prototype.query as (...a: unknown[]) => Promise<pg.QueryResult>).apply(this, args)
    if (typeof values === 'function' || typeof callback === 'function' || !isRead(text)) return run() as never
    return retried(run) as never
  }
}

function isRead(text: string | undefined): boolean {
  return typeof text === 'string' && /^\s*SELECT\b/i.test(text)
}

async function retried<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run()
    } catch (error) {
      if (attempt >= RETRY_DELAYS_MS.length || !isConnectionLoss(error)) throw error
      await new Promise(resolve => setTimeout(resolve, RETRY_DELAYS_MS[attempt]))
    }
  }
}
