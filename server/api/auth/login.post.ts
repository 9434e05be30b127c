import { LoginSchema } from '#shared/types/auth'
import { SignIn } from '../../lib/auth/sign-in'
import { startSession } from '../../lib/auth/sessions'

let signIn: SignIn | undefined

export default defineEventHandler(async (event) => {
  const { db, config } = await useAppContext()
  signIn ??= new SignIn(db, config)
  try {
    // The IP is counted before the body is read, so malformed requests count too.
    await signIn.checkIp(clientIp(event, config.TRUST_PROXY))
    const { email, password } = await readValidatedBody(event, parseWith(LoginSchema))
    const user = await signIn.verify(email, password)
    const session = await startSession(db, user.id, config.SESSION_MAX_AGE_HOURS)
    await setUserSession(event, { user, secure: { sessionId: session.id }, loggedInAt: Date.now() }, { maxAge: config.SESSION_MAX_AGE_HOURS * 3600 })
    return { user }
  } catch (error) {
    throw httpError(error, event)
  }
})
