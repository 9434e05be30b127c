import { endSession } from '../lib/auth/sessions'

/**
 * nuxt-auth-utils' own routes under /api/_auth/session follow the server-side sessions too: the app
 * asks GET whether it is signed in (a revoked, expired or disabled user's cookie answers 401, which
 * the app reads as signed out), and every way of clearing the cookie (DELETE, POST
 * /api/auth/logout, logout-all) ends the session it carried.
 */
export default defineNitroPlugin(() => {
  sessionHooks.hook('fetch', async (session, event) => {
    if (session.user) await requireUser(event)
  })
  sessionHooks.hook('clear', async (session) => {
    await endSession((await useAppContext()).db, session.secure?.sessionId)
  })
})
