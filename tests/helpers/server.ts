import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** The built server (`.output`), started as production starts it, with the given environment. */
export interface ServerHandle {
  url: string
  process: ChildProcess
  /** stdout and stderr as they arrived. */
  output: () => string
  /** stdout alone (where the logs go). */
  stdout: () => string
  stop: () => Promise<void>
}

const ENTRY = join(import.meta.dirname, '../../.output/server/index.mjs')

/** `entry`: another copy of the build (a benchmark's, safe from rebuilds while it runs); `cwd`: where it runs (default: this checkout). */
export async function startServer(env: Record<string, string>, opts: { requireHealthy?: boolean, entry?: string, cwd?: string } = {}): Promise<ServerHandle> {
  const entry = opts.entry ?? ENTRY
  if (!existsSync(entry)) throw new Error('No built server: run `npm run build` (npm test does) first')
  const port = await freePort()
  const child = spawn(process.execPath, [entry], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH!, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  let stdout = ''
  const collect = (d: Buffer) => {
    output += d
  }
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d
  })
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output}`)
    try {
      const res = await fetch(`${url}/api/health`)
      // A server whose dependencies are down answers 503 but is up.
      if (res.status === 200 || opts.requireHealthy === false) break
    } catch { /* not listening yet */ }
    if (i > 300) {
      child.kill('SIGKILL')
      throw new Error(`server did not become healthy in 30 s:\n${output}`)
    }
    await sleep(100)
  }
  return {
    url,
    process: child,
    output: () => output,
    stdout: () => stdout,
    stop: () => new Promise((resolve) => {
      // A killed process has a signalCode and no exitCode.
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}
