import { createHash } from 'node:crypto'
import { mkdir, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { DuckDBConnection } from '@duckdb/node-api'
import { openWarehouse, queryRows } from './duckdb'
import { isUuid } from '#shared/utils/uuid'
import { createBaseTables } from './schema'

export interface DemoAccount { id: string, name: string, currency: string }
export interface DemoTag { id: string, name: string }
export interface DemoUser {
  user_id: string
  email: string
  password: string
  display_name: string
  accounts: DemoAccount[]
  tags: DemoTag[]
  /** How many transactions buildWarehouse generates for this user. */
  transactions: number
}

export const DEMO_END_DATE = '2026-10-31'
// About three years, ending on DEMO_END_DATE.
export const DEMO_SPAN_DAYS = 1096

// Names deliberately include quotes, commas, markup characters and non-ASCII text, and a few
// merchants start with = - + @, so exports get exercised on what breaks CSV writers and
// spreadsheets (formula injection).
const DISPLAY_NAMES = ['Ada Lovelace', 'Zoë Müller', 'Seán O\'Brien', 'José Núñez', 'Grace Hopper', '李小龙', 'Alan "Al" Turing', 'Chloé Dubois']
const ACCOUNT_POOL: ReadonlyArray<Omit<DemoAccount, 'id'>> = [
  { name: 'Current Account', currency: 'GBP' },
  { name: 'Credit Card', currency: 'GBP' },
  { name: 'Compte Épargne', currency: 'EUR' },
  { name: 'Joint "House" Account', currency: 'GBP' },
  { name: 'Savings', currency: 'GBP' }
]
const TAG_POOL = ['Groceries', 'Rent', 'Salary', 'Eating Out', 'Travel', 'Bills & Utilities', 'Café <Fun>', 'Kids\' "Stuff"']
const INCOME_TAG = 'Salary'
export const DEMO_MERCHANTS = [
  'Tesco', 'Sainsbury\'s', 'Marks & Spencer', 'Pret A Manger', 'Transport for London', 'Amazon', 'Shell',
  'Café Nero', 'Müller', 'Ñandú', '東京 Ramen', 'Pizza 🍕 Palace',
  'Smith, Jones & Co', 'The "Best" Bakery', '<b>Bold</b> Books',
  '=SUM(A1:A9)', '-10% Outlet', '+Plus Gym', '@Home Furnishings'
]
const INCOME_MERCHANTS = ['Acme Payroll Ltd', 'HMRC Tax Refund', 'Freelance, Inc.']
const DESCRIPTIONS = ['Card payment', 'Contactless', 'Direct Debit, monthly', 'Online order "express"', 'Standing order', null]
const INCOME_DESCRIPTIONS = ['Salary', 'Refund', 'Invoice #1042']

/** The demo users, accounts and tags: pure and deterministic for a seed; no transactions yet. */
export function planDemo(opts: { users: number, transactions: number, seed: number }): DemoUser[] {
  const { users, transactions, seed } = opts
  if (!Number.isSafeInteger(users) || users < 0) throw new RangeError(`users must be a non-negative integer, got ${users}`)
  if (!Number.isSafeInteger(transactions) || transactions < 0) throw new RangeError(`transactions must be a non-negative integer, got ${transactions}`)
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`)
  return Array.from({ length: users }, (_, i) => {
    const pick = digest(`${seed}:user:${i}:shape`)
    // The first user always gets every account and tag, so demo1 shows all the awkward names.
    const accountCount = i === 0 ? ACCOUNT_POOL.length : 3 + (pick[0]! % 3)
    const tagCount = i === 0 ? TAG_POOL.length : 5 + (pick[1]! % 4)
    return {
      user_id: uuidFrom(`${seed}:user:${i}`),
      // Independent of the seed: rebuilding with another seed keeps the same logins.
      email: `demo${i + 1}@outport.local`,
      password: `demo${i + 1}-${digest(`${seed}:password:${i}`).toString('hex').slice(0, 12)}`,
      display_name: DISPLAY_NAMES[i % DISPLAY_NAMES.length]! + (i >= DISPLAY_NAMES.length ? ` ${i + 1}` : ''),
      accounts: ACCOUNT_POOL.slice(0, accountCount).map((a, j) => ({ id: uuidFrom(`${seed}:account:${i}:${j}`), ...a })),
      tags: TAG_POOL.slice(0, tagCount).map((name, j) => ({ id: uuidFrom(`${seed}:tag:${i}:${j}`), name })),
      transactions
    }
  })
}

/**
 * Writes a new warehouse at `path` holding `users` and their generated transactions. The file is
 * built beside the target and renamed over it, so processes reading the old file keep a
 * consistent view until they reopen. Transactions are generated inside DuckDB from hashes of
 * (seed, user index, row number), so the content is the same for a seed however many threads run
 * (random() is not), for the same DuckDB version.
 */
export async function buildWarehouse(path: string, users: DemoUser[], seed: number): Promise<{ path: string, transactions: number }> {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`)
  users.forEach(validateUser)
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  await removeDatabase(tmp)
  let total: number
  try {
    const instance = await openWarehouse(tmp, { readOnly: false })
    try {
      const connection = await instance.connect()
      try {
        await createBaseTables(connection)
        for (const user of users) await insertOwned(connection, user)
        for (const [index, user] of users.entries()) {
          if (user.transactions > 0) await connection.run(transactionsSql(user, index, seed))
        }
        const [row] = await queryRows<{ n: string }>(connection, 'SELECT count(*) AS n FROM transactions')
        total = Number(row!.n)
        await connection.run('CHECKPOINT')
      } finally {
        connection.closeSync()
      }
    } finally {
      instance.closeSync()
    }
    // A WAL left by the previous file would be replayed onto the new one.
    await rm(`${path}.wal`, { force: true })
    await rename(tmp, path)
  } catch (error) {
    await removeDatabase(tmp)
    throw error
  }
  return { path, transactions: total }
}

function validateUser(user: DemoUser, index: number) {
  const where = `users[${index}]`
  if (!isUuid(user.user_id)) throw new TypeError(`${where}.user_id is not a UUID`)
  if (!Number.isSafeInteger(user.transactions) || user.transactions < 0) throw new RangeError(`${where}.transactions must be a non-negative integer`)
  if (user.transactions > 0 && user.accounts.length === 0) throw new RangeError(`${where} has transactions but no accounts`)
  for (const a of user.accounts) {
    if (!isUuid(a.id)) throw new TypeError(`${where}: account id ${JSON.stringify(a.id)} is not a UUID`)
    // Currencies are spliced into the generator SQL, so they must be plain codes.
    if (!/^[A-Z]{3}$/.test(a.currency)) throw new TypeError(`${where}: currency ${JSON.stringify(a.currency)} is not an ISO 4217 code`)
  }
  for (const t of user.tags) {
    if (!isUuid(t.id)) throw new TypeError(`${where}: tag id ${JSON.stringify(t.id)} is not a UUID`)
  }
}

async function insertOwned(connection: DuckDBConnection, user: DemoUser) {
  for (const a of user.accounts) {
    await connection.run('INSERT INTO accounts VALUES ($1::UUID, $2::UUID, $3, $4)', [a.id, user.user_id, a.name, a.currency])
  }
  for (const t of user.tags) {
    await connection.run('INSERT INTO tags VALUES ($1::UUID, $2::UUID, $3)', [t.id, user.user_id, t.name])
  }
}

/**
 * One INSERT ... SELECT over range(n) for one user. The user's ids and the name lists are
 * literals rather than a joined row: DuckDB folds constant lists, whereas list columns carried
 * through a join are copied per row, which made generation several times slower.
 *
 * Each row draws two 64-bit hashes and slices them into independent 16-bit fields. Dates rise
 * with the row number (evenly spread over the span), so rows are stored roughly in date order and
 * date filters can skip row groups.
 */
function transactionsSql(user: DemoUser, index: number, seed: number): string {
  const n = user.transactions
  const accounts = user.accounts
  const incomeTags = user.tags.filter(t => t.name === INCOME_TAG)
  const spendTags = user.tags.filter(t => t.name !== INCOME_TAG)
  // Doubled so a slice starting near the end wraps around instead of coming up short.
  const spendTagsWrapped = uuidList([...spendTags, ...spendTags].map(t => t.id))
  const maxTags = Math.min(3, spendTags.length)
  const spendTagExpr = spendTags.length
    ? `list_slice(${spendTagsWrapped}, g.tag_start + 1, g.tag_start + least(g.tag_count, ${maxTags}))`
    : '[]::UUID[]'
  return `
INSERT INTO transactions
SELECT
  md5(concat_ws(':', 'outport-demo', ${seed}, ${index}, g.i))::UUID,
  '${user.user_id.toLowerCase()}'::UUID,
  ${uuidList(accounts.map(a => a.id))}[g.account],
  DATE '${DEMO_END_DATE}' - CAST((${n - 1} - g.i) * ${DEMO_SPAN_DAYS} // ${n} AS INTEGER),
  CAST(CASE
    WHEN g.kind < 20 THEN 150000 + g.cents % 300000
    WHEN g.kind < 60 THEN -(2000 + g.cents % 148000)
    ELSE -(50 + g.cents % 6000)
  END * 0.01 AS DECIMAL(18,2)),
  ${stringList(accounts.map(a => a.currency))}[g.account],
  CASE WHEN g.kind < 20 THEN ${stringList(INCOME_MERCHANTS)}[1 + g.merchant % ${INCOME_MERCHANTS.length}]
    ELSE ${stringList(DEMO_MERCHANTS)}[1 + g.merchant % ${DEMO_MERCHANTS.length}] END,
  CASE WHEN g.kind < 20 THEN ${stringList(INCOME_DESCRIPTIONS)}[1 + g.description % ${INCOME_DESCRIPTIONS.length}]
    ELSE ${stringList(DESCRIPTIONS)}[1 + g.description % ${DESCRIPTIONS.length}] END,
  CASE WHEN g.kind < 20 THEN ${incomeTags.length ? uuidList(incomeTags.map(t => t.id)) : '[]::UUID[]'} ELSE ${spendTagExpr} END,
  -- Loaded a few hours after the day ends, as a nightly pipeline would; one row in fifty days late.
  CAST(DATE '${DEMO_END_DATE}' - CAST((${n - 1} - g.i) * ${DEMO_SPAN_DAYS} // ${n} AS INTEGER) AS TIMESTAMP) AT TIME ZONE 'UTC'
    + INTERVAL 1 DAY + to_seconds(g.load_delay % 21600) + INTERVAL 1 HOUR
    + CASE WHEN g.load_delay % 50 = 0 THEN to_days(CAST(1 + g.load_delay % 5 AS INTEGER)) ELSE INTERVAL 0 DAY END
FROM (
  SELECT
    i,
    1 + ((h1 & 65535) % ${accounts.length})::BIGINT AS account,
    (((h1 >> 16) & 65535) % 1000)::BIGINT AS kind,
    ((h1 >> 32) & 65535)::BIGINT AS merchant,
    ((h1 >> 48) & 65535)::BIGINT AS description,
    ((h2 & 65535) % 4)::BIGINT AS tag_count,
    (((h2 >> 16) & 65535) % ${Math.max(spendTags.length, 1)})::BIGINT AS tag_start,
    (h2 >> 32)::BIGINT AS cents,
    ((h1 >> 8) & 65535)::BIGINT AS load_delay
  FROM (
    SELECT i, hash(${seed}::BIGINT, ${index}::BIGINT, i) AS h1, hash(${seed}::BIGINT, ${index}::BIGINT, i, 1) AS h2
    FROM range(${n}) AS r(i)
  )
) AS g`
}

function uuidList(ids: string[]): string {
  return ids.length ? `[${ids.map(id => `'${id.toLowerCase()}'::UUID`).join(', ')}]` : '([]::UUID[])'
}

function stringList(values: ReadonlyArray<string | null>): string {
  // Parenthesised so a subscript after it is not read as part of the type.
  return `([${values.map(v => v === null ? 'NULL' : `'${v.replaceAll('\'', '\'\'')}'`).join(', ')}]::VARCHAR[])`
}

async function removeDatabase(file: string) {
  await rm(file, { force: true })
  await rm(`${file}.wal`, { force: true })
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/** A UUID shaped like v4 (version and variant bits set) from the SHA-256 of `text`. */
function uuidFrom(text: string): string {
  const bytes = digest(text).subarray(0, 16)
  bytes[6] = (bytes[6]! & 0x0f) | 0x40
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
