import { randomUUID } from 'node:crypto'
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible'
import type { SessionUser } from '#shared/types/auth'
import type { Db } from '../db/client'
import { RequestError } from '../validation'
import { hashPassword, needsReHash, verifyPassword } from './passwords'

const WINDOW_SECONDS = 15 * 60
// Created by the migration 20261201100100_login_rate_limits (not by the library at run time).
export const RATE_LIMIT_TABLE = 'login_rate_limits'

export interface SignInLimits { LOGIN_MAX_ATTEMPTS_PER_IP: number, LOGIN_MAX_FAILURES_PER_EMAIL: number }

/**
 * Password sign-in with its guessing limits: all attempts from one client IP, and failed ones for
 * one email, per 15 minutes. The counters live in PostgreSQL (rate-limiter-flexible's store), so
 * every web process shares them, and each attempt takes its point with one atomic upsert *before*
 * the password hash is computed: concurrent guesses cannot all pass a check that has not counted
 * them yet. A successful sign-in gives the email its points back. Refusals are RequestErrors (401,
 * or 429 with Retry-After).
 */
export class SignIn {
  private readonly ip: RateLimiterPostgres
  private readonly email: RateLimiterPostgres
  // Verifying against a throwaway hash when the email is unknown keeps the response time from
  // telling which emails have accounts.
  private unknownUserHash?: Promise<string>

  constructor(private readonly db: Db, limits: SignInLimits) {
    const store = { storeClient: db.pool, storeType: 'pool', tableName: RATE_LIMIT_TABLE, tableCreated: true, duration: WINDOW_SECONDS }
    this.ip = new RateLimiterPostgres({ ...store, keyPrefix: 'ip', points: limits.LOGIN_MAX_ATTEMPTS_PER_IP })
    this.email = new RateLimiterPostgres({ ...store, keyPrefix: 'email', points: limits.LOGIN_MAX_FAILURES_PER_EMAIL })
  }

  /** Counts an attempt from this IP; call before reading the credentials. */
  async checkIp(ip: string): Promise<void> {
    await take(this.ip, ip)
  }

  async verify(email: string, password: string): Promise<SessionUser> {
    await take(this.email, email)
    const user = await this.db.user.findUnique({ where: { email } })
    const hash = user?.passwordHash ?? await (this.unknownUserHash ??= hashPassword(randomUUID()))
    const valid = await verifyPassword(hash, password).catch(() => false)
    if (!user || !valid || user.disabledAt) throw new SignInRefused(user ? { userId: user.id, reason: user.disabledAt ? 'disabled' : 'wrong_password' } : undefined)
    await this.email.delete(email)
    if (needsReHash(user.passwordHash)) await this.upgradeHash(user.id, user.passwordHash, password)
    return { id: user.id, email: user.email, display_name: user.displayName }
  }

  /** A hash made under older scrypt parameters is replaced, now that the password is known. */
  private async upgradeHash(userId: string, oldHash: string, password: string) {
    try {
      const passwordHash = await hashPassword(password)
      // Only if unchanged meanwhile (a password change must not be overwritten by the old password).
      await this.db.user.updateMany({ where: { id: userId, passwordHash: oldHash }, data: { passwordHash } })
    } catch (error) {
      // The sign-in itself succeeded; the next one tries again.
      console.warn(`[outport] could not upgrade a password hash: ${(error as Error).message}`)
    }
  }
}

/**
 * A wrong password (or a disabled user): 401 like any unknown email, but naming the account it
 * was tried against, so the audit trail can show that user the failed attempt.
 */
export class SignInRefused extends RequestError {
  constructor(readonly account?: { userId: string, reason: 'wrong_password' | 'disabled' }) {
    super(401, 'Incorrect email or password')
  }
}

/** Takes one point for `key`, or refuses with 429 once the window's points are used up. */
async function take(limiter: RateLimiterPostgres, key: string): Promise<void> {
  try {
    await limiter.consume(key)
  } catch (error) {
    if (error instanceof RateLimiterRes) throw tooMany(Math.max(1, Math.ceil(error.msBeforeNext / 1000)))
    throw error
  }
}

function tooMany(seconds: number) {
  return new RequestError(429, `Too many sign-in attempts. Try again in ${Math.ceil(seconds / 60)} minute(s).`, { retryAfterSeconds: seconds })
}
