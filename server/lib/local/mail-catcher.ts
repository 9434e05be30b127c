import { spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

/**
 * The local SMTP catcher for `npm run dev` (as s3rver is the local S3): accepts every message on
 * 127.0.0.1 without authentication or TLS and writes it as an .eml file (open it in any mail client,
 * or read it as text).
 *
 * A child process, like s3rver, so it can be shared through .data/local-services.json (the CLI, a
 * reloaded dev server) and ends with the process that started it: it exits when the pipe on its
 * stdin closes, whatever ended its parent (Ctrl-C, SIGTERM, SIGKILL).
 */

export interface MailCatcherHandle { url: string, port: number, pid: number, stop: () => Promise<void> }

// The child's whole program. smtp-server is imported by absolute URL (resolved here), so the child
// needs neither our cwd nor tsx; the folder and port come in the environment.
const PROGRAM = `
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
const smtp = await import(process.env.CATCHER_SMTP_SERVER)
const SMTPServer = smtp.SMTPServer ?? smtp.default.SMTPServer
const directory = process.env.CATCHER_DIR
let n = 0
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, session, callback) {
    const chunks = []
    stream.on('data', c => chunks.push(c))
    stream.on('end', () => {
      const name = new Date().toISOString().replace(/[:.]/g, '-') + '-' + process.pid + '-' + (++n) + '.eml'
      writeFile(join(directory, name), Buffer.concat(chunks)).then(() => callback(), callback)
    })
  }
})
server.on('error', (error) => {
  console.error(error.message)
  process.exit(1)
})
server.listen(Number(process.env.CATCHER_PORT), '127.0.0.1', () => process.stdout.write('ready\\n'))
if (process.env.CATCHER_EXIT_WITH_PARENT) process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0)).resume()
`

export async function startMailCatcher(opts: { directory: string, port: number, exitWithParent?: boolean }): Promise<MailCatcherHandle> {
  await mkdir(opts.directory, { recursive: true })
  const smtpServer = pathToFileURL(createRequire(import.meta.url).resolve('smtp-server')).href
  const child = spawn(process.execPath, ['--input-type=module', '--eval', PROGRAM], {
    stdio: [opts.exitWithParent ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      CATCHER_SMTP_SERVER: smtpServer,
      CATCHER_DIR: opts.directory,
      CATCHER_PORT: String(opts.port),
      ...(opts.exitWithParent && { CATCHER_EXIT_WITH_PARENT: '1' })
    }
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the SMTP catcher did not start within 10 s: ${stderr}`))
    }, 10_000)
    child.stdout!.on('data', (chunk: Buffer) => {
      if (!chunk.toString().includes('ready')) return
      clearTimeout(timer)
      resolve()
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the SMTP catcher exited (${code}): ${stderr}`))
    })
  })
  child.removeAllListeners('exit')
  if (opts.exitWithParent) {
    // Held open, never written: its closing is the signal. It must not keep this process alive.
    child.unref()
    ;(child.stdin as unknown as { unref: () => void }).unref()
  }
  ;(child.stdout as unknown as { unref: () => void }).unref()
  ;(child.stderr as unknown as { unref: () => void }).unref()
  const stop = () => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
  return { url: `smtp://127.0.0.1:${opts.port}`, port: opts.port, pid: child.pid!, stop }
}
