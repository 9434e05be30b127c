import { createAppContext, type AppContext } from '../lib/context'
import { loadConfig } from '../lib/config'

let context: Promise<AppContext> | undefined

/**
 * The process-wide context, created on first use. In development (`npm run dev`) missing
 * infrastructure is started locally first; a built server must be configured.
 */
export function useAppContext(): Promise<AppContext> {
  context ??= boot().catch((error) => {
    // Let the next request try again (e.g. the database came up after the server).
    context = undefined
    throw error
  })
  return context
}

async function boot(): Promise<AppContext> {
  if (import.meta.dev) {
    const { prepareDevelopment } = await import('../lib/local/development')
    await prepareDevelopment(process.env, message => useLog().info(message))
  }
  return createAppContext(loadConfig(process.env))
}
