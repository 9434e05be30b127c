import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULT_WAREHOUSE_PATH } from '../config'
import { createDb } from '../db/client'
import { migrate, readMigrations } from '../db/migrate'
import { seedDemo } from '../demo-seed'
import { showInLogOnce } from '../redact'
import { ensureLocalServices, type LocalServices } from './services'

/**
 * `npm run dev` with nothing configured: start what is missing, migrate, and on first start build a
 * demo warehouse and user and print how to sign in.
 */
export async function prepareDevelopment(env: Record<string, string | undefined>, log: (line: string) => void, opts: { dataDir?: string } = {}): Promise<LocalServices> {
  const local = await ensureLocalServices(env, { log, dataDir: opts.dataDir })
  Object.assign(env, local.env)
  // Webhooks to a receiver on this machine (http, loopback) are what development needs.
  env.WEBHOOK_ALLOW_HOSTS ||= '127.0.0.1,localhost'
  const { applied } = await migrate(env.DATABASE_URL!, await readMigrations(join(process.cwd(), 'prisma/migrations')))
  if (applied.length) log(`Applied migrations: ${applied.join(', ')}`)

  const warehousePath = env.WAREHOUSE_PATH || DEFAULT_WAREHOUSE_PATH
  if (existsSync(warehousePath)) return local
  const db = createDb(env.DATABASE_URL!, { max: 2 })
  try {
    const demo = await seedDemo(db, warehousePath, { users: 1, transactions: 50_000, seed: 1 })
    const user = demo.users[0]!
    log(`Built a demo warehouse at ${warehousePath} (${user.transactions.toLocaleString('en')} transactions)`)
    // The one token the log shows: the README tells a newcomer to take it from here.
    showInLogOnce(user.token)
    log(`Demo sign-in: ${user.email} / ${user.password}   API token: ${user.token}`)
  } finally {
    await db.$disconnect()
  }
  return local
}
