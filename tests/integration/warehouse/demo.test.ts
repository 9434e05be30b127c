import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { DuckDBConnection } from '@duckdb/node-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildWarehouse, DEMO_MERCHANTS, planDemo } from '#server/lib/warehouse/demo'
import { openWarehouse, queryRows } from '#server/lib/warehouse/duckdb'
import { isUuid } from '#shared/utils/uuid'
import { tempDir } from './fixture'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('planDemo', () => {
  it('is deterministic for a seed', () => {
    expect(planDemo({ users: 5, transactions: 100, seed: 1 })).toEqual(planDemo({ users: 5, transactions: 100, seed: 1 }))
  })

  it('gives other ids and passwords for another seed, and the same logins', () => {
    const a = planDemo({ users: 3, transactions: 100, seed: 1 })
    const b = planDemo({ users: 3, transactions: 100, seed: 2 })
    for (let i = 0; i < 3; i++) {
      expect(b[i]!.user_id).not.toBe(a[i]!.user_id)
      expect(b[i]!.password).not.toBe(a[i]!.password)
      expect(b[i]!.accounts.map(x => x.id)).not.toEqual(a[i]!.accounts.map(x => x.id))
      expect(b[i]!.email).toBe(a[i]!.email)
    }
  })

  it('produces well-formed users', () => {
    const users = planDemo({ users: 12, transactions: 250, seed: 1 })
    expect(users.map(u => u.email)).toEqual(Array.from({ length: 12 }, (_, i) => `demo${i + 1}@outport.local`))
    const ids = users.flatMap(u => [u.user_id, ...u.accounts.map(a => a.id), ...u.tags.map(t => t.id)])
    for (const id of ids) expect(id).toMatch(UUID_V4)
    expect(new Set(ids).size).toBe(ids.length)
    expect(new Set(users.map(u => u.password)).size).toBe(12)
    expect(new Set(users.map(u => u.display_name)).size).toBe(12)
    for (const u of users) {
      expect(u.transactions).toBe(250)
      expect(u.accounts.length).toBeGreaterThanOrEqual(3)
      expect(u.accounts.length).toBeLessThanOrEqual(5)
      expect(u.tags.length).toBeGreaterThanOrEqual(5)
      expect(u.tags.length).toBeLessThanOrEqual(8)
      expect(u.password.length).toBeGreaterThanOrEqual(12)
      for (const a of u.accounts) expect(['GBP', 'EUR']).toContain(a.currency)
    }
    // Counts vary between users rather than all taking the same shape.
    expect(new Set(users.map(u => `${u.accounts.length}/${u.tags.length}`)).size).toBeGreaterThan(1)
  })

  it('gives the first user the awkward names', () => {
    const [first] = planDemo({ users: 1, transactions: 0, seed: 1 })
    const names = [...first!.accounts.map(a => a.name), ...first!.tags.map(t => t.name)]
    expect(names).toContain('Joint "House" Account')
    expect(names).toContain('Bills & Utilities')
    expect(names).toContain('Café <Fun>')
    expect(names.some(n => n.includes('\''))).toBe(true)
    expect(names.some(n => /[^\x20-\x7e]/.test(n))).toBe(true)
    expect(new Set(first!.accounts.map(a => a.currency))).toEqual(new Set(['GBP', 'EUR']))
  })

  it('rejects nonsense options', () => {
    expect(() => planDemo({ users: -1, transactions: 1, seed: 1 })).toThrow(RangeError)
    expect(() => planDemo({ users: 1, transactions: 1.5, seed: 1 })).toThrow(RangeError)
    expect(() => planDemo({ users: 1, transactions: 1, seed: Number.NaN })).toThrow(RangeError)
  })
})

describe('buildWarehouse', () => {
  const PER_USER = 3000
  let dir: string
  let cleanup: () => Promise<void>

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir())
  })

  afterAll(async () => {
    await cleanup?.()
  })

  async function withWarehouse<T>(path: string, fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const instance = await openWarehouse(path)
    const connection = await instance.connect()
    try {
      return await fn(connection)
    } finally {
      connection.closeSync()
      instance.closeSync()
    }
  }

  // Order-independent digest of every row of every table.
  const checksum = (path: string) => withWarehouse(path, async c => queryRows(c, `SELECT
    (SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY transaction_id)) FROM transactions AS t) AS transactions,
    (SELECT md5(string_agg(a::VARCHAR, '|' ORDER BY account_id)) FROM accounts AS a) AS accounts,
    (SELECT md5(string_agg(g::VARCHAR, '|' ORDER BY tag_id)) FROM tags AS g) AS tags`))

  it('builds the same content twice for a seed, different content for another seed', async () => {
    const users = planDemo({ users: 3, transactions: PER_USER, seed: 7 })
    const a = join(dir, 'a.duckdb')
    const b = join(dir, 'b.duckdb')
    const c = join(dir, 'c.duckdb')
    expect(await buildWarehouse(a, users, 7)).toEqual({ path: a, transactions: 3 * PER_USER })
    await buildWarehouse(b, planDemo({ users: 3, transactions: PER_USER, seed: 7 }), 7)
    await buildWarehouse(c, planDemo({ users: 3, transactions: PER_USER, seed: 8 }), 8)
    const [sumA, sumB, sumC] = await Promise.all([checksum(a), checksum(b), checksum(c)])
    expect(sumA).toEqual(sumB)
    expect(sumA[0]!.transactions).not.toEqual(sumC[0]!.transactions)
    // Nothing left behind but the three databases.
    expect((await readdir(dir)).sort()).toEqual(['a.duckdb', 'b.duckdb', 'c.duckdb'])
  })

  describe('content', () => {
    const users = planDemo({ users: 3, transactions: PER_USER, seed: 1 })
    let path: string
    const q = <T = Record<string, unknown>>(sql: string) => withWarehouse(path, c => queryRows<T>(c, sql))

    beforeAll(async () => {
      path = join(dir, 'content.duckdb')
      await buildWarehouse(path, users, 1)
    })

    it('holds exactly the planned users, accounts and tags', async () => {
      const accounts = await q('SELECT account_id, user_id, name, currency FROM accounts ORDER BY account_id')
      expect(accounts).toEqual(users.flatMap(u => u.accounts.map(a => ({ account_id: a.id, user_id: u.user_id, name: a.name, currency: a.currency })))
        .sort((x, y) => x.account_id.localeCompare(y.account_id)))
      const tags = await q('SELECT tag_id, user_id, name FROM tags ORDER BY tag_id')
      expect(tags).toEqual(users.flatMap(u => u.tags.map(t => ({ tag_id: t.id, user_id: u.user_id, name: t.name })))
        .sort((x, y) => x.tag_id.localeCompare(y.tag_id)))
    })

    it('has the requested number of transactions per user, with unique ids', async () => {
      const counts = await q<{ user_id: string, n: string }>('SELECT user_id, count(*) AS n FROM transactions GROUP BY user_id ORDER BY user_id')
      expect(counts).toEqual(users.map(u => ({ user_id: u.user_id, n: String(PER_USER) })).sort((x, y) => x.user_id.localeCompare(y.user_id)))
      expect(await q('SELECT count(DISTINCT transaction_id) AS n FROM transactions')).toEqual([{ n: String(3 * PER_USER) }])
    })

    it('puts every transaction on its own user\'s account, in that account\'s currency', async () => {
      expect(await q(`SELECT count(*) AS bad FROM transactions AS t
        LEFT JOIN accounts AS a ON a.account_id = t.account_id AND a.user_id = t.user_id AND a.currency = t.currency
        WHERE a.account_id IS NULL`)).toEqual([{ bad: '0' }])
      // And spreads them over all of the user's accounts.
      expect(await q('SELECT count(DISTINCT account_id) AS n FROM transactions')).toEqual([{ n: String(users.reduce((n, u) => n + u.accounts.length, 0)) }])
    })

    it('tags every transaction with 0-3 distinct tags of its own user', async () => {
      expect(await q(`SELECT count(*) AS bad FROM (SELECT t.user_id, unnest(t.tag_ids) AS tag_id FROM transactions AS t) AS e
        LEFT JOIN tags AS g ON g.tag_id = e.tag_id AND g.user_id = e.user_id
        WHERE g.tag_id IS NULL`)).toEqual([{ bad: '0' }])
      const spread = await q<{ n: string, c: string }>('SELECT len(tag_ids) AS n, count(*) AS c FROM transactions GROUP BY ALL ORDER BY n')
      expect(spread.map(r => r.n)).toEqual(['0', '1', '2', '3'])
      expect(await q('SELECT count(*) AS bad FROM transactions WHERE len(tag_ids) <> len(list_distinct(tag_ids))')).toEqual([{ bad: '0' }])
    })

    it('spreads dates over about three years ending 2026-10-31', async () => {
      expect(await q('SELECT min(transaction_date) AS lo, max(transaction_date) AS hi, count(DISTINCT transaction_date) > 900 AS spread FROM transactions'))
        .toEqual([{ lo: expect.stringMatching(/^2023-11-0\d$/), hi: '2026-10-31', spread: true }])
    })

    it('is mostly small spending with some large income', async () => {
      const [row] = await q<Record<string, string>>(`SELECT
        count(*) FILTER (WHERE amount < 0) AS spending,
        count(*) FILTER (WHERE amount > 0) AS income,
        count(*) FILTER (WHERE amount > 1000) AS large_income,
        count(*) FILTER (WHERE amount < 0 AND amount > -100) AS small_spending,
        count(*) FILTER (WHERE amount = 0) AS zero
        FROM transactions`)
      const n = 3 * PER_USER
      expect(Number(row!.spending)).toBeGreaterThan(0.9 * n)
      expect(Number(row!.income)).toBeGreaterThan(0)
      expect(Number(row!.large_income)).toBeGreaterThan(0)
      expect(Number(row!.small_spending)).toBeGreaterThan(0.8 * n)
      expect(row!.zero).toBe('0')
    })

    it('includes the tricky merchant names', async () => {
      const merchants = (await q<{ merchant: string }>('SELECT DISTINCT merchant FROM transactions')).map(r => r.merchant)
      for (const m of DEMO_MERCHANTS) expect(merchants).toContain(m)
      for (const pattern of [/^=/, /^-/, /^\+/, /^@/, /,/, /"/, /'/, /[^\x20-\x7e]/, /</]) {
        expect(merchants.some(m => pattern.test(m)), String(pattern)).toBe(true)
      }
      expect(merchants.some(m => /[\r\n]/.test(m))).toBe(false)
    })
  })

  it('replaces an existing warehouse atomically: open readers keep the old data', async () => {
    const path = join(dir, 'swap.duckdb')
    const old = planDemo({ users: 1, transactions: 10, seed: 3 })
    await buildWarehouse(path, old, 3)
    const reader = await openWarehouse(path)
    const before = await reader.connect()
    try {
      const next = planDemo({ users: 2, transactions: 20, seed: 4 })
      expect(await buildWarehouse(path, next, 4)).toEqual({ path, transactions: 40 })
      // The reader opened before the swap still sees the old file, whole.
      expect(await queryRows(before, 'SELECT count(*) AS n, any_value(user_id) AS u FROM transactions')).toEqual([{ n: '10', u: old[0]!.user_id }])
      expect(await withWarehouse(path, c => queryRows(c, 'SELECT count(*) AS n FROM transactions'))).toEqual([{ n: '40' }])
      expect((await readdir(dir)).filter(f => f.startsWith('swap.duckdb'))).toEqual(['swap.duckdb'])
    } finally {
      before.closeSync()
      reader.closeSync()
    }
  })

  it('validates users before touching the target', async () => {
    const path = join(dir, 'invalid.duckdb')
    const [user] = planDemo({ users: 1, transactions: 5, seed: 1 })
    await expect(buildWarehouse(path, [{ ...user!, user_id: 'x\'; DROP TABLE t; --' }], 1)).rejects.toThrow(/not a UUID/)
    await expect(buildWarehouse(path, [{ ...user!, accounts: [{ ...user!.accounts[0]!, currency: 'GB\'P' }] }], 1)).rejects.toThrow(/currency/)
    await expect(buildWarehouse(path, [{ ...user!, accounts: [] }], 1)).rejects.toThrow(/no accounts/)
    expect((await readdir(dir)).filter(f => f.startsWith('invalid'))).toEqual([])
    expect(isUuid(user!.user_id)).toBe(true)
  })
})
