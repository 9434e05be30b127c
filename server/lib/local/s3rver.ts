import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * s3rver, a local S3-compatible HTTP server, as a child process: in-process it would share our event
 * loop and halve upload throughput. Used for zero-configuration development and by the tests.
 */

export interface S3rverHandle { endpoint: string, port: number, pid: number, stop: () => Promise<void> }

// s3rver accepts any secret but only this access key id.
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

function s3rverBin(): string {
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js')
}

// Loaded into the s3rver process: it exits when the pipe on its stdin closes, which happens when its
// parent ends however it ended (Ctrl-C, SIGTERM, SIGKILL), so a development server leaves nothing
// running. (The parent pid cannot be watched instead: in containers it may read as 1 from the start.)
const EXIT_WITH_PARENT = `data:text/javascript,${encodeURIComponent('process.stdin.on(\'end\', () => process.exit(0)).on(\'error\', () => process.exit(0)).resume()')}`

export async function startS3rver(opts: { directory: string, port: number, buckets: string[], exitWithParent?: boolean }): Promise<S3rverHandle> {
  await mkdir(opts.directory, { recursive: true })
  const args = [...(opts.exitWithParent ? ['--import', EXIT_WITH_PARENT] : []), s3rverBin(), '-d', opts.directory, '-a', '127.0.0.1', '-p', String(opts.port), '--silent', '--no-vhost-buckets']
  for (const bucket of opts.buckets) args.push('--configure-bucket', bucket)
  const child = spawn(process.execPath, args, { stdio: [opts.exitWithParent ? 'pipe' : 'ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const endpoint = `http://127.0.0.1:${opts.port}`
  await waitForHttp(endpoint, child, () => stderr)
  if (opts.exitWithParent) {
    // Held open, never written: its closing is the signal. It must not keep this process alive.
    child.unref()
    ;(child.stdin as unknown as { unref: () => void }).unref()
    ;(child.stderr as unknown as { unref: () => void }).unref()
  }
  return { endpoint, port: opts.port, pid: child.pid!, stop: () => stopChild(child) }
}

export async function isHttpUp(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) })
    return true
  } catch {
    return false
  }
}

async function waitForHttp(url: string, child: ChildProcess, stderr: () => string) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`s3rver exited (${child.exitCode}): ${stderr()}`)
    if (await isHttpUp(url)) return
    await sleep(50)
  }
  child.kill('SIGKILL')
  throw new Error(`s3rver did not answer on ${url} within 10 s: ${stderr()}`)
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}
