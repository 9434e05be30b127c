import { randomUUID } from 'node:crypto'
import type { SessionUser } from '../../../shared/types/auth'
import type { Db } from '../db/client'
import { RateLimiter } from '../security/rate-limit'
import { RequestError } from '../validation'
import { hashPassword, verifyPassword } from './passwords'

const WINDOW_MS = 15 * 60_000

export interface SignInLimits { LOGIN_MAX_ATTEMPTS_PER_IP: number, LOGIN_MAX_FAILURES_PER_EMAIL: number }

/**
 * Password sign-in with its guessing limits: all attempts from one client IP, and failed ones for
 * one email, per 15 minutes. Refusals are RequestErrors (401, or 429 with Retry-After).
 */
export class SignIn {
  private readonly ip: RateLimiter
  private readonly email: RateLimiter
  // Verifying against a throwaway hash when the email is unknown keeps the response time from
  // telling which emails have accounts.
  private unknownUserHash?: Promise<string>

  constructor(private readonly db: Db, limits: SignInLimits, clock?: () => number) {
    this.ip = new RateLimiter(limits.LOGIN_MAX_ATTEMPTS_PER_IP, WINDOW_MS, clock)
    this.email = new RateLimiter(limits.LOGIN_MAX_FAILURES_PER_EMAIL, WINDOW_MS, clock)
  }

  /** Counts an attempt from this IP; call before reading the credentials. */
  checkIp(ip: string): void {
    const wait = this.ip.retryAfter(ip)
    if (wait) throw tooMany(wait)
    this.ip.hit(ip)
  }

  async verify(email: string, password: string): Promise<SessionUser> {
    const wait = this.email.retryAfter(email)
    if (wait) throw tooMany(wait)
    const user = await this.db.user.findUnique({ where: { email } })
    const hash = user?.passwordHash ?? await (this.unknownUserHash ??= hashPassword(randomUUID()))
    const valid = await verifyPassword(hash, password).catch(() => false)
    if (!user || !valid || user.disabledAt) {
      this.email.hit(email)
      throw new RequestError(401, 'Incorrect email or password')
    }
    this.email.reset(email)
    return { id: user.id, email: user.email, display_name: user.displayName }
  }
}

function tooMany(seconds: number) {
  return new RequestError(429, `Too many sign-in attempts. Try again in ${Math.ceil(seconds / 60)} minute(s).`, { retryAfterSeconds: seconds })
}
