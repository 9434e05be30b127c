import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { RateLimiterPostgres } from 'rate-limiter-flexible'
import type { SessionUser } from '#shared/types/auth'
import type { Db } from '../db/client'
import { postgresLimiter, takePoint } from '../rate-limit'
import { RequestError } from '../validation'
import { hashPassword, needsReHash, verifyPassword } from './passwords'

const WINDOW_SECONDS = 15 * 60
// Created by the migration 20261201100100_login_rate_limits (not by the library at run time).
export const RATE_LIMIT_TABLE = 'login_rate_limits'
const MAX_DELAY_MS = 10_000

export interface SignInLimits { LOGIN_MAX_ATTEMPTS_PER_IP: number, LOGIN_MAX_FAILURES_PER_EMAIL: number, LOGIN_MAX_FAILURES_PER_EMAIL_GLOBAL: number }

/**
 * How long the `failures`-th attempt for one email (from anywhere, this one included) waits before
 * its password is checked: nothing up to half the ceiling, then 100 ms doubling per attempt, at
 * most 10 s. Distributed guessing slows down long before the ceiling's wall, and the owner still
 * gets in, a little later.
 */
export function signInDelayMs(failures: number, ceiling: number): number {
  const beyondHalf = failures - Math.floor(ceiling / 2)
  return beyondHalf > 0 ? Math.min(100 * 2 ** (beyondHalf - 1), MAX_DELAY_MS) : 0
}

/**
 * Password sign-in with its guessing limits, per 15 minutes: all attempts from one client IP;
 * failed ones for one email from one IP, the lockout the owner can meet; failed ones for one email
 * from anywhere, with a much higher ceiling and a growing delay before it, so someone else's
 * guesses cannot lock the owner out. The counters live in PostgreSQL (server/lib/rate-limit.ts),
 * shared by every web process, and each point is taken *before* the password hash is computed:
 * concurrent guesses cannot all pass a check that has not counted them yet. A successful sign-in
 * gives its points back. Refusals are RequestErrors (401, or 429 with Retry-After).
 */
export class SignIn {
  private readonly ip: RateLimiterPostgres
  private readonly emailFromIp: RateLimiterPostgres
  private readonly email: RateLimiterPostgres
  // Verifying against a throwaway hash when the email is unknown keeps the response time from
  // telling which emails have accounts.
  private unknownUserHash?: Promise<string>

  /** `wait` sleeps out the growing delay (tests record it instead). */
  constructor(private readonly db: Db, private readonly limits: SignInLimits, private readonly wait: (ms: number) => Promise<unknown> = ms => sleep(ms)) {
    const store = { tableName: RATE_LIMIT_TABLE, durationSeconds: WINDOW_SECONDS }
    this.ip = postgresLimiter(db, { ...store, keyPrefix: 'ip', points: limits.LOGIN_MAX_ATTEMPTS_PER_IP })
    this.emailFromIp = postgresLimiter(db, { ...store, keyPrefix: 'email-ip', points: limits.LOGIN_MAX_FAILURES_PER_EMAIL })
    this.email = postgresLimiter(db, { ...store, keyPrefix: 'email', points: limits.LOGIN_MAX_FAILURES_PER_EMAIL_GLOBAL })
  }

  /** Counts an attempt from this IP; call before reading the credentials. */
  async checkIp(ip: string): Promise<void> {
    await takePoint(this.ip, ip, tooMany)
  }

  async verify(email: string, password: string, ip: string): Promise<SessionUser> {
    const pair = `${email}|${ip}`
    await takePoint(this.emailFromIp, pair, tooMany)
    const { consumedPoints } = await takePoint(this.email, email, tooMany)
    const delay = signInDelayMs(consumedPoints, this.limits.LOGIN_MAX_FAILURES_PER_EMAIL_GLOBAL)
    if (delay) await this.wait(delay)
    const user = await this.db.user.findUnique({ where: { email } })
    const hash = user?.passwordHash ?? await (this.unknownUserHash ??= hashPassword(randomUUID()))
    const valid = await verifyPassword(hash, password).catch(() => false)
    if (!user || !valid || user.disabledAt) throw new SignInRefused(user ? { userId: user.id, reason: user.disabledAt ? 'disabled' : 'wrong_password' } : undefined)
    // The owner's own mistakes are forgiven; others' guesses from elsewhere still count.
    await this.emailFromIp.delete(pair)
    await this.email.reward(email, 1)
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

function tooMany(seconds: number) {
  return new RequestError(429, `Too many sign-in attempts. Try again in ${Math.ceil(seconds / 60)} minute(s).`, { retryAfterSeconds: seconds })
}
