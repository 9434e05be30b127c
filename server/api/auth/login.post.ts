import { LoginSchema } from '#shared/schemas/auth'
import { randomUUID } from 'node:crypto'
import type { H3Event } from 'h3'
import { hashPassword, verifyPassword } from '../../lib/auth/passwords'
import { RateLimiter } from '../../lib/security/rate-limit'

// Verifying against a throwaway hash when the email is unknown keeps the response time from
// telling which emails have accounts.
let unknownUserHash: Promise<string> | undefined

const WINDOW_MS = 15 * 60_000
let limiters: { ip: RateLimiter, email: RateLimiter } | undefined

export default defineEventHandler(async (event) => {
  const { db, config } = await useAppContext()
  limiters ??= { ip: new RateLimiter(config.LOGIN_MAX_ATTEMPTS_PER_IP, WINDOW_MS), email: new RateLimiter(config.LOGIN_MAX_FAILURES_PER_EMAIL, WINDOW_MS) }
  const ip = clientIp(event, config.TRUST_PROXY)
  const ipWait = limiters.ip.retryAfter(ip)
  if (ipWait) throw tooMany(event, ipWait)
  limiters.ip.hit(ip)

  const { email, password } = await readValidatedBody(event, parseWith(LoginSchema))
  const emailWait = limiters.email.retryAfter(email)
  if (emailWait) throw tooMany(event, emailWait)

  const user = await db.user.findUnique({ where: { email } })
  const valid = await verifyPassword(user?.passwordHash ?? await (unknownUserHash ??= hashPassword(randomUUID())), password).catch(() => false)
  if (!user || !valid) {
    limiters.email.hit(email)
    throw createError({ statusCode: 401, message: 'Incorrect email or password' })
  }
  limiters.email.reset(email)
  const sessionUser = { id: user.id, email: user.email, display_name: user.displayName }
  await setUserSession(event, { user: sessionUser, loggedInAt: Date.now() })
  return { user: sessionUser }
})

function tooMany(event: H3Event, seconds: number) {
  setHeader(event, 'retry-after', seconds)
  return createError({ statusCode: 429, message: `Too many sign-in attempts. Try again in ${Math.ceil(seconds / 60)} minute(s).` })
}
