import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { TOKEN_SCOPE_IDS, type TokenScope } from '#shared/types/tokens'
import { createApiToken } from './lib/auth/tokens'
import { DEFAULT_WAREHOUSE_PATH } from './lib/config'
import { createDb, type Db } from './lib/db/client'
import { migrate, readMigrations } from './lib/db/migrate'
import { seedDemo } from './lib/demo-seed'
import { ensureLocalServices } from './lib/local/services'
import { createUser, disableUser } from './lib/users'

/**
 * Outport's command line: `npm run cli -- <command> [options]`. Results are one JSON document on
 * stdout; progress and errors go to stderr.
 */

const USAGE = `Usage: npm run cli -- <command> [options]
  migrate                                              apply prisma/migrations
  demo [--users N] [--transactions T] [--seed S]       (re)build the demo warehouse and users (T per user)
  user:create --email E --password P [--name NAME]     create a user
  token:create --email E [--name NAME] [--scopes S,…]  create an API token for a user (default: every scope:
                                                       ${TOKEN_SCOPE_IDS.join(', ')})
  user:disable --email E                               refuse the user's sign-in, sessions and API tokens`

class UsageError extends Error {}

function log(line: string) {
  process.stderr.write(`${line}\n`)
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`)
  return n
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new UsageError(`--${name} is required`)
  return value
}

/** `--scopes exports:read,webhooks:write`: the operator's command line mints tokens with every scope unless told. */
function scopes(value: string | undefined): TokenScope[] {
  if (value === undefined) return TOKEN_SCOPE_IDS
  const named = value.split(',').map(s => s.trim()).filter(Boolean)
  const unknown = named.filter(s => !(TOKEN_SCOPE_IDS as string[]).includes(s))
  if (unknown.length || !named.length) throw new UsageError(`--scopes takes a comma-separated list of ${TOKEN_SCOPE_IDS.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`)
  return TOKEN_SCOPE_IDS.filter(s => named.includes(s))
}

async function withDb<T>(databaseUrl: string, run: (db: Db) => Promise<T>): Promise<T> {
  const db = createDb(databaseUrl, { max: 2 })
  try {
    return await run(db)
  } finally {
    await db.$disconnect()
  }
}

async function main(argv: string[]): Promise<unknown> {
  const [command, ...rest] = argv
  const { values } = parseArgs({
    args: rest,
    options: {
      users: { type: 'string' },
      transactions: { type: 'string' },
      seed: { type: 'string' },
      email: { type: 'string' },
      password: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' }
    },
    strict: true
  })
  if (!command || !['migrate', 'demo', 'user:create', 'token:create', 'user:disable'].includes(command)) throw new UsageError(command ? `Unknown command: ${command}` : 'No command given')

  if (existsSync('.env')) process.loadEnvFile('.env')
  const local = await ensureLocalServices(process.env, { log, services: ['postgres'] })
  const databaseUrl = process.env.DATABASE_URL ?? local.env.DATABASE_URL!
  try {
    // Every command runs against an up-to-date schema.
    const result = await migrate(databaseUrl, await readMigrations(join(process.cwd(), 'prisma/migrations')))
    if (command === 'migrate') return result

    return await withDb(databaseUrl, async (db) => {
      if (command === 'demo') {
        const started = Date.now()
        const output = await seedDemo(db, process.env.WAREHOUSE_PATH || DEFAULT_WAREHOUSE_PATH, {
          users: positiveInt(values.users, 'users', 1),
          transactions: positiveInt(values.transactions, 'transactions', 10_000),
          seed: positiveInt(values.seed, 'seed', 1)
        })
        log(`Demo built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
        return output
      }
      const email = required(values.email, 'email').trim().toLowerCase()
      if (command === 'user:create') {
        const user = await createUser(db, { email, password: required(values.password, 'password'), displayName: values.name })
        return { user_id: user.id, email: user.email, display_name: user.displayName }
      }
      if (command === 'user:disable') {
        const disabled = await disableUser(db, email)
        if (!disabled) throw new UsageError(`No user with email ${email}`)
        return { user_id: disabled.id, email: disabled.email, disabled_at: disabled.disabledAt, sessions_ended: disabled.sessionsEnded }
      }
      const user = await db.user.findUnique({ where: { email } })
      if (!user) throw new UsageError(`No user with email ${email}`)
      const { id, token, dto } = await createApiToken(db, user.id, values.name ?? 'cli', { scopes: scopes(values.scopes) })
      return { user_id: user.id, email: user.email, token_id: id, token, scopes: dto.scopes }
    })
  } finally {
    await local.stop()
  }
}

main(process.argv.slice(2)).then((result) => {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  process.exit(0)
}, (error: unknown) => {
  log(error instanceof UsageError ? `${error.message}\n\n${USAGE}` : `Error: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(error instanceof UsageError ? 2 : 1)
})
