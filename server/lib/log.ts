import { pino, type DestinationStream, type Logger } from 'pino'

/**
 * The process's logger. Production writes one JSON object per line (`LOG_FORMAT=json`, the default
 * under NODE_ENV=production), so a log pipeline can filter on `job_id`, `user_id` and
 * `request_id`; development gets one readable line per entry (`LOG_FORMAT=pretty`).
 *
 * Every line is written through `process.stdout.write`, looked up at each write: pino's default
 * destination writes to file descriptor 1 directly, which would bypass the secret redaction that
 * server/plugins/00-log-redaction.ts installs on that method.
 */

export type { Logger }
export type LogFormat = 'json' | 'pretty'
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export const LOG_FORMATS = ['json', 'pretty'] as const
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const

/** Context for one log line; `level` picks the line's level (the caller's default otherwise). */
export interface LogFields {
  level?: LogLevel
  job_id?: string
  user_id?: string
  [field: string]: unknown
}

/**
 * How the engine (server/lib) logs: a message and optional fields. Engine modules take one of
 * these instead of a logger, so they stay free of pino and tests can pass `line => lines.push(line)`.
 */
export type LogFn = (line: string, fields?: LogFields) => void

export interface LoggerOptions {
  format?: LogFormat
  level?: LogLevel
  /** Where lines go; `process.stdout` (through its current write method) by default. */
  write?: (line: string) => void
}

/**
 * LOG_FORMAT and LOG_LEVEL from the environment; invalid values fall back to the defaults (the
 * config check names them). `fallback`: the format when LOG_FORMAT is unset, NODE_ENV's by default.
 */
export function logOptionsFromEnv(env: Record<string, string | undefined> = process.env, fallback = defaultFormat(env)): Pick<LoggerOptions, 'format' | 'level'> {
  const format = (LOG_FORMATS as readonly string[]).includes(env.LOG_FORMAT ?? '') ? env.LOG_FORMAT as LogFormat : fallback
  const level = (LOG_LEVELS as readonly string[]).includes(env.LOG_LEVEL ?? '') ? env.LOG_LEVEL as LogLevel : 'info'
  return { format, level }
}

export function defaultFormat(env: Record<string, string | undefined> = process.env): LogFormat {
  return env.NODE_ENV === 'production' ? 'json' : 'pretty'
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const { format = defaultFormat(), level = 'info' } = options
  const write = options.write ?? ((line: string) => {
    process.stdout.write(line)
  })
  const destination: DestinationStream = { write: format === 'json' ? write : line => write(prettyLine(line)) }
  return pino({
    level,
    // `level: "info"` rather than pino's numbers: what people and most log pipelines expect.
    formatters: { level: label => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    base: { pid: process.pid }
  }, destination)
}

/** A LogFn over a logger: lines at `defaultLevel` unless the fields name another level. */
export function logFn(logger: Logger, defaultLevel: LogLevel = 'warn'): LogFn {
  return (line, fields = {}) => {
    const { level = defaultLevel, ...rest } = fields
    logger[level](rest, line)
  }
}

const PRETTY_SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg'])

/** `12:34:56.789 WARN  message key=value …` from one of pino's JSON lines. */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(json)
  } catch {
    return json
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : ''
  const level = String(entry.level ?? '').toUpperCase().padEnd(5)
  const fields = Object.entries(entry)
    .filter(([key]) => !PRETTY_SKIP.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
  const err = entry.err as { stack?: string } | undefined
  const head = [time, level, entry.msg ?? '', ...fields.filter(f => !f.startsWith('err='))].filter(Boolean).join(' ')
  return `${head}${err?.stack ? `\n${err.stack}` : ''}\n`
}
