import type { H3Event } from 'h3'
import { createLogger, logOptionsFromEnv, type LogFormat, type Logger } from '../lib/log'

let logger: Logger | undefined

function options() {
  return logOptionsFromEnv(process.env, import.meta.dev ? undefined : 'json')
}

/** `json` or `pretty`: what useLog() writes. */
export function useLogFormat(): LogFormat {
  return options().format!
}

/**
 * The process's logger (server/lib/log.ts). A built server logs JSON unless LOG_FORMAT says
 * otherwise, whatever NODE_ENV is: a deployment that forgot NODE_ENV still gets parseable lines.
 */
export function useLog(): Logger {
  logger ??= createLogger(options())
  return logger
}

/** The logger for one request: its lines carry `request_id`, and `user_id` once the caller is known. */
export function useRequestLog(event: H3Event): Logger {
  const userId = (event.context.user as { id?: string } | undefined)?.id
  return useLog().child({ request_id: event.context.requestId, ...(userId && { user_id: userId }) })
}
