import { Hash } from '@adonisjs/hash'
import { Scrypt } from '@adonisjs/hash/drivers/scrypt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashPassword, verifyPassword } from '#server/lib/auth/passwords'
import { SignIn, signInDelayMs } from '#server/lib/auth/sign-in'
import { createDb, type Db } from '#server/lib/db/client'
import { RequestError } from '#server/lib/validation'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

const LIMITS = { LOGIN_MAX_ATTEMPTS_PER_IP: 50, LOGIN_MAX_FAILURES_PER_EMAIL: 3, LOGIN_MAX_FAILURES_PER_EMAIL_GLOBAL: 100 }
const IP = '203.0.113.1'

describe('SignIn', () => {
  let database: TestDatabase
  // Two pools stand for two web processes: they share nothing but PostgreSQL.
  let one: Db
  let two: Db

  beforeAll(async () => {
    database = await createTestDatabase()
    one = createDb(database.url, { max: 5 })
    two = createDb(database.url, { max: 5 })
  })
  afterAll(async () => {
    for (const db of [one, two]) {
      await db?.$disconnect()
      // Prisma only ends a pool it has used; `two` served the rate limiter alone.
      if (db && !db.pool.ended) await db.pool.end()
    }
    await database?.drop()
  })

  const statusOf = (promise: Promise<unknown>) => promise.then(() => 200, (error: unknown) => {
    if (error instanceof RequestError) return error.statusCode
    throw error
  })

  it('hashes with scrypt at OWASP\'s N=2^17, r=8, p=1', async () => {
    const hash = await hashPassword('correct horse')
    expect(hash).toMatch(/^\$scrypt\$n=131072,r=8,p=1\$/)
    expect(await verifyPassword(hash, 'correct horse')).toBe(true)
  })

  it('upgrades a hash made under older parameters at the next successful sign-in', async () => {
    const old = await new Hash(new Scrypt({})).make('old secret')
    expect(old).toMatch(/^\$scrypt\$n=16384,/)
    await one.user.create({ data: { email: 'old@example.com', passwordHash: old, displayName: 'old' } })
    const signIn = new SignIn(one, LIMITS)
    await expect(statusOf(signIn.verify('old@example.com', 'wrong', IP))).resolves.toBe(401)
    expect((await one.user.findUniqueOrThrow({ where: { email: 'old@example.com' } })).passwordHash).toBe(old)
    await signIn.verify('old@example.com', 'old secret', IP)
    const upgraded = (await one.user.findUniqueOrThrow({ where: { email: 'old@example.com' } })).passwordHash
    expect(upgraded).toMatch(/^\$scrypt\$n=131072,r=8,p=1\$/)
    await expect(signIn.verify('old@example.com', 'old secret', IP)).resolves.toMatchObject({ email: 'old@example.com' })
  })

  it('counts 40 concurrent wrong passwords atomically across processes: at most the limit reach the hash, the rest 429', async () => {
    await one.user.create({ data: { email: 'target@example.com', passwordHash: await hashPassword('right'), displayName: 't' } })
    const processes = [new SignIn(one, LIMITS), new SignIn(two, LIMITS)]
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => statusOf(processes[i % 2]!.verify('target@example.com', `wrong-${i}`, IP))))
    expect(statuses.filter(s => s === 401).length).toBeLessThanOrEqual(LIMITS.LOGIN_MAX_FAILURES_PER_EMAIL)
    expect(statuses.filter(s => s === 429).length).toBe(40 - statuses.filter(s => s === 401).length)
    // Locked for the right password too, in either process.
    await expect(statusOf(processes[1]!.verify('target@example.com', 'right', IP))).resolves.toBe(429)
  })

  it('shares the per-address count between processes', async () => {
    const limits = { ...LIMITS, LOGIN_MAX_ATTEMPTS_PER_IP: 4 }
    const processes = [new SignIn(one, limits), new SignIn(two, limits)]
    const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => statusOf(processes[i % 2]!.checkIp('203.0.113.9'))))
    expect(statuses.filter(s => s === 200).length).toBe(4)
    expect(statuses.filter(s => s === 429).length).toBe(8)
  })

  it('locks an email for the address its failures came from, not for its owner elsewhere', async () => {
    await one.user.create({ data: { email: 'owner@example.com', passwordHash: await hashPassword('mine'), displayName: 'o' } })
    const signIn = new SignIn(one, LIMITS)
    for (let i = 0; i < 10; i++) await statusOf(signIn.verify('owner@example.com', `guess-${i}`, '198.51.100.7'))
    await expect(statusOf(signIn.verify('owner@example.com', 'mine', '198.51.100.7'))).resolves.toBe(429)
    await expect(signIn.verify('owner@example.com', 'mine', '192.0.2.44')).resolves.toMatchObject({ email: 'owner@example.com' })
  })

  it('per email from anywhere: slower beyond half the global ceiling, walled at it, however many addresses guess in parallel', async () => {
    await one.user.create({ data: { email: 'popular@example.com', passwordHash: await hashPassword('right'), displayName: 'p' } })
    const limits = { ...LIMITS, LOGIN_MAX_FAILURES_PER_EMAIL_GLOBAL: 6 }
    const delays: number[] = []
    const record = async (ms: number) => delays.push(ms)
    const processes = [new SignIn(one, limits, record), new SignIn(two, limits, record)]
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => statusOf(processes[i % 2]!.verify('popular@example.com', `wrong-${i}`, `198.51.100.${i}`))))
    expect(statuses.filter(s => s === 401)).toHaveLength(6)
    expect(statuses.filter(s => s === 429)).toHaveLength(34)
    expect(delays.sort((a, b) => a - b)).toEqual([100, 200, 400])
    await expect(statusOf(processes[0]!.verify('popular@example.com', 'right', '192.0.2.99'))).resolves.toBe(429)
  })

  it('the delay: none up to half the ceiling, then 100 ms doubling, at most 10 s', () => {
    expect([1, 50, 51, 52, 53, 57, 58, 100].map(n => signInDelayMs(n, 100))).toEqual([0, 0, 100, 200, 400, 6400, 10_000, 10_000])
  })
})
