import { LoginSchema } from '#shared/types/auth'
import { SignIn } from '../../lib/auth/sign-in'

let signIn: SignIn | undefined

export default defineEventHandler(async (event) => {
  const { db, config } = await useAppContext()
  signIn ??= new SignIn(db, config)
  try {
    // The IP is counted before the body is read, so malformed requests count too.
    signIn.checkIp(clientIp(event, config.TRUST_PROXY))
    const { email, password } = await readValidatedBody(event, parseWith(LoginSchema))
    const user = await signIn.verify(email, password)
    await setUserSession(event, { user, loggedInAt: Date.now() })
    return { user }
  } catch (error) {
    throw httpError(error, event)
  }
})
