import { LoginSchema } from '#shared/types/auth'
import { SignIn, SignInRefused } from '#server/lib/auth/sign-in'
import { startSession } from '#server/lib/auth/sessions'

let signIn: SignIn | undefined

export default defineEventHandler(async (event) => {
  const { db, config } = await useAppContext()
  signIn ??= new SignIn(db, config)
  try {
    const ip = clientIp(event, config.TRUST_PROXY)
    // The IP is counted before the body is read, so malformed requests count too.
    await signIn.checkIp(ip)
    const { email, password } = await readValidatedBody(event, parseWith(LoginSchema))
    const user = await signIn.verify(email, password, ip)
    const session = await startSession(db, user.id, config.SESSION_MAX_AGE_HOURS)
    await setUserSession(event, { user, secure: { sessionId: session.id }, loggedInAt: Date.now() }, { maxAge: config.SESSION_MAX_AGE_HOURS * 3600 })
    await audit(event, 'session.signed_in', { userId: user.id, objectId: session.id })
    return { user }
  } catch (error) {
    // Only attempts against an existing account have someone to show them to.
    if (error instanceof SignInRefused && error.account) {
      await audit(event, 'session.sign_in_failed', { userId: error.account.userId, details: { reason: error.account.reason } })
    }
    throw error
  }
})
