import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { LOG_FORMATS, LOG_LEVELS } from './log'

/**
 * Every setting the server, the worker and the CLI read, validated once at start-up. Errors name the
 * variable so a misconfigured deployment fails before it serves a request.
 */

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform(v => ['true', '1', 'yes'].includes(v))
const positiveInt = z.coerce.number().int().positive()
const optionalString = z.string().trim().min(1).optional()

/** Where `npm run cli -- demo` builds the warehouse and the server looks for it by default. */
export const DEFAULT_WAREHOUSE_PATH = '.data/warehouse.duckdb'

export const ConfigSchema = z.object({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// connection URL'),
  WAREHOUSE_PATH: z.string().min(1).default(DEFAULT_WAREHOUSE_PATH),
  S3_EXPORTS_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name'),
  AWS_REGION: z.string().min(1).default('eu-west-2'),
  S3_ENDPOINT: z.url().optional(),
  S3_FORCE_PATH_STYLE: bool.optional(),
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  // A storage connection that moves no bytes for this long is given up (and the export retried),
  // so a hung S3 endpoint cannot hold a worker slot forever.
  S3_IDLE_TIMEOUT_SECONDS: positiveInt.max(3600).default(60),
  // Server-side encryption asked for on every write to Outport's bucket (destinations take their own).
  S3_SSE: z.enum(['AES256', 'aws:kms']).optional(),
  S3_SSE_KMS_KEY_ID: optionalString,
  APP_URL: z.url().default('http://localhost:3000'),
  NUXT_SESSION_PASSWORD: z.string().min(32, 'must be at least 32 characters').optional(),
  // Telegram stays off while the token is unset. NUXT_SESSION_PASSWORD also keys the download links
  // Telegram messages carry (server/lib/exports/download-token.ts).
  TELEGRAM_BOT_TOKEN: optionalString,
  TELEGRAM_API_ROOT: z.url().optional(),
  // Telegram sends it back in X-Telegram-Bot-Api-Secret-Token; it only accepts this alphabet.
  TELEGRAM_WEBHOOK_SECRET: z.string().regex(/^[A-Za-z0-9_-]{16,256}$/, 'must be 16-256 characters of A-Z, a-z, 0-9, _ and -').optional(),
  // webhook: Telegram posts updates to APP_URL/api/telegram/webhook; polling: the server asks for
  // them (development without a public HTTPS URL).
  TELEGRAM_MODE: z.enum(['webhook', 'polling']).default('webhook'),
  // Email stays off while SMTP_URL is unset (smtp://user:pass@host:587; STARTTLS when the server
  // offers it, smtps:// for TLS from the start). `npm run dev` starts a local catcher instead.
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
  EMAIL_FROM: z.string().trim().min(3).default('Outport <outport@localhost>'),
  // Webhook deliveries: the first retry after WEBHOOK_RETRY_BASE_MS, doubling per attempt (with
  // jitter), given up after WEBHOOK_MAX_ATTEMPTS; the defaults span about a day and a half.
  WEBHOOK_RETRY_BASE_MS: positiveInt.default(30_000),
  WEBHOOK_MAX_ATTEMPTS: positiveInt.max(30).default(12),
  // Hosts (comma-separated) that webhooks may reach over plain http and at private or loopback
  // addresses: development and tests (127.0.0.1), never a production default.
  WEBHOOK_ALLOW_HOSTS: z.string().default('').transform(v => v.split(',').map(h => h.trim().toLowerCase()).filter(Boolean)),
  WEBHOOKS_MAX_PER_USER: positiveInt.max(1000).default(10),
  // After this many deliveries in a row that were given up, the endpoint is disabled and the user told.
  WEBHOOK_DISABLE_AFTER_FAILURES: positiveInt.default(5),
  // Pending deliveries one endpoint may have; beyond it a test or redelivery is refused (409) and
  // an event for that endpoint is dropped (logged, counted), so a dead receiver cannot grow the queue.
  WEBHOOK_MAX_PENDING_PER_ENDPOINT: positiveInt.default(1000),
  // Test pings and redeliveries one user may ask for per minute (then 429 with Retry-After).
  WEBHOOK_MANUAL_SENDS_PER_MINUTE: positiveInt.default(10),
  // Deliveries (sent, given up or still pending) older than this are deleted by the retention task.
  WEBHOOK_DELIVERY_RETENTION_DAYS: positiveInt.max(36500).default(30),
  // Destinations (server/lib/destinations): credentials sealed with DESTINATIONS_KEY (else a key
  // derived from NUXT_SESSION_PASSWORD); deliveries retried from DESTINATION_RETRY_BASE_MS, doubling,
  // up to DESTINATION_MAX_ATTEMPTS. Endpoints and SFTP hosts follow WEBHOOK_ALLOW_HOSTS.
  DESTINATIONS_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  DESTINATIONS_MAX_PER_USER: positiveInt.max(1000).default(10),
  DESTINATION_MAX_ATTEMPTS: positiveInt.max(30).default(6),
  DESTINATION_RETRY_BASE_MS: positiveInt.default(60_000),
  // Tests one user may run per minute (each connects out), then 429 with Retry-After.
  DESTINATION_TESTS_PER_MINUTE: positiveInt.default(10),
  // The AWS identity Outport calls AssumeRole as, shown in the trust policy users paste.
  DESTINATIONS_AWS_PRINCIPAL_ARN: optionalString,
  // Where AssumeRole goes for role_arn destinations: unset, AWS STS in the destination's region; an
  // STS-compatible endpoint, or a local fake in tests. Outport's own keys for the call come from the
  // standard AWS credential chain (AWS_ACCESS_KEY_ID…, a profile, an instance or task role).
  DESTINATIONS_STS_ENDPOINT: z.string().url().optional(),
  EXPORT_WORKER_CONCURRENCY: positiveInt.max(64).default(2),
  EXPORT_URL_TTL_SECONDS: positiveInt.max(7 * 24 * 3600).default(3600),
  EXPORT_RETENTION_HOURS: positiveInt.default(24),
  EXPORT_MAX_ATTEMPTS: positiveInt.max(20).default(3),
  EXPORT_RETRY_BASE_MS: positiveInt.default(2000),
  // Where DuckDB writes export files before upload; they are removed after each export.
  EXPORT_WORK_DIR: z.string().min(1).default(join(tmpdir(), 'outport-exports')),
  // DuckDB's memory ceiling per process; larger sorts spill to EXPORT_WORK_DIR instead of growing.
  DUCKDB_MEMORY_LIMIT: z.string().regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'must be a size such as 512MB').default('192MB'),
  DUCKDB_THREADS: positiveInt.max(256).optional(),
  // Niceness of the threads that do an export's CPU work (DuckDB, the libuv pool, the upload
  // thread) on Linux; the event loop that serves HTTP keeps its own. 0 leaves them all equal.
  EXPORT_THREAD_NICE: z.coerce.number().int().min(0).max(19).default(10),
  // A running job's lease; the heartbeat renews it every third of it. A dead worker's jobs are
  // reclaimed once it lapses, so shorter means faster recovery but more renewals.
  EXPORT_LEASE_SECONDS: positiveInt.max(3600).default(30),
  // On SIGTERM, how long running exports may finish before they are handed back to the queue.
  EXPORT_SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).max(3600).default(20),
  EXPORT_MAX_ACTIVE_PER_USER: positiveInt.default(3),
  // Live export status (GET /api/analytics/exports/events): a comment line this often keeps idle
  // streams open through proxies; a stream's session or API token is rechecked this often, so
  // signing out or revoking ends its streams within it.
  EXPORT_EVENTS_HEARTBEAT_SECONDS: positiveInt.max(3600).default(15),
  EXPORT_EVENTS_AUTH_CHECK_SECONDS: positiveInt.max(60).default(30),
  // Pending jobs across all users; beyond it new exports are refused (503) to protect the service.
  EXPORT_MAX_QUEUE_DEPTH: positiveInt.default(1000),
  // Longest start_date..end_date span accepted; unset means no limit.
  EXPORT_MAX_RANGE_DAYS: positiveInt.optional(),
  // A sign-in's lifetime (the cookie's Max-Age and the server-side session's expiry): 7 days.
  SESSION_MAX_AGE_HOURS: positiveInt.max(24 * 366).default(168),
  // Recurring exports a user may keep; more is refused (400).
  SCHEDULES_MAX_PER_USER: positiveInt.default(25),
  // A schedule whose runs fail this many times in a row pauses itself and the user is told.
  SCHEDULES_DISABLE_AFTER_FAILURES: positiveInt.default(5),
  // The shortest gap between two runs of a schedule's cadence (minutes); a faster cron is refused.
  SCHEDULES_MIN_INTERVAL_MINUTES: positiveInt.default(5),
  // The most runs one backfill may add (its window's slots); more is refused (400).
  SCHEDULES_BACKFILL_MAX_SLOTS: positiveInt.default(400),
  // Sign-in attempts per 15 minutes: all attempts from one client IP; failed ones for one email from
  // one client IP (the lockout its owner can meet); failed ones for one email from anywhere, slowed
  // down beyond half of it and refused only at it (so strangers cannot lock the owner out).
  LOGIN_MAX_ATTEMPTS_PER_IP: positiveInt.default(50),
  LOGIN_MAX_FAILURES_PER_EMAIL: positiveInt.default(10),
  LOGIN_MAX_FAILURES_PER_EMAIL_GLOBAL: positiveInt.default(100),
  // Usable (not revoked, not expired) API tokens a user may hold; creating one more is refused.
  API_TOKENS_MAX_PER_USER: positiveInt.max(1000).default(20),
  // How long audit events are kept (days); older ones are deleted by the retention task.
  AUDIT_RETENTION_DAYS: positiveInt.max(36500).default(400),
  // Behind a reverse proxy, take the client IP from X-Forwarded-For (its last hop) instead of the socket.
  TRUST_PROXY: bool.default(false),
  // all: API and worker; web: API only; worker: only the worker (and /api/health).
  OUTPORT_ROLE: z.enum(['all', 'web', 'worker']).default('all'),
  // Bearer token for GET /metrics; unset, the route answers 404.
  METRICS_TOKEN: z.string().trim().regex(/^\S+$/, 'must be one word (no spaces)').optional(),
  // json: one JSON object per line (the built server's default); pretty: readable lines (development's).
  // Read by server/lib/log.ts before this check runs (a configuration error must be logged too).
  LOG_FORMAT: z.enum(LOG_FORMATS).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  PORT: positiveInt.max(65535).optional()
}).superRefine((config, issues) => {
  if (!config.TELEGRAM_BOT_TOKEN) return
  if (!config.NUXT_SESSION_PASSWORD) {
    issues.addIssue({ code: 'custom', path: ['NUXT_SESSION_PASSWORD'], message: 'is required with TELEGRAM_BOT_TOKEN (it keys the download links sent to Telegram)' })
  }
  if (config.TELEGRAM_MODE === 'webhook' && !config.TELEGRAM_WEBHOOK_SECRET) {
    issues.addIssue({ code: 'custom', path: ['TELEGRAM_WEBHOOK_SECRET'], message: 'is required with TELEGRAM_BOT_TOKEN in webhook mode (or set TELEGRAM_MODE=polling)' })
  }
})

export type Config = z.infer<typeof ConfigSchema>

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map(p => `  - ${p}`).join('\n')}`)
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable (FOO= in a .env file) means "not set", not "set to nothing".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = ConfigSchema.safeParse(present)
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`))
  }
  return parsed.data
}
