import { LoginSchema } from '#shared/schemas/auth'
import { randomUUID } from 'node:crypto'
import { hashPassword, verifyPassword } from '../../lib/auth/passwords'

// Verifying against a throwaway hash when the email is unknown keeps the response time from
// telling which emails have accounts.
let unknownUserHash: Promise<string> | undefined

export default defineEventHandler(async (event) => {
  const { email, password } = await readValidatedBody(event, parseWith(LoginSchema))
  const { db } = await useAppContext()
  const user = await db.user.findUnique({ where: { email } })
  const valid = await verifyPassword(user?.passwordHash ?? await (unknownUserHash ??= hashPassword(randomUUID())), password).catch(() => false)
  if (!user || !valid) {
    throw createError({ statusCode: 401, message: 'Incorrect email or password' })
  }
  const sessionUser = { id: user.id, email: user.email, display_name: user.displayName }
  await setUserSession(event, { user: sessionUser, loggedInAt: Date.now() })
  return { user: sessionUser }
})
