import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stopChild, waitForPort } from './children'
import { freePort } from './server'

/** Azure's own Blob Storage emulator, on a loopback port with a throwaway folder. */
export interface AzuriteHandle {
  port: number
  /** The account URL (path-style, as azurite serves it): http://127.0.0.1:<port>/devstoreaccount1 */
  accountUrl: string
  accountName: string
  accountKey: string
  stop: () => Promise<void>
}

/** Azurite's well-known development account. */
export const AZURITE_ACCOUNT = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
}

export async function startAzurite(): Promise<AzuriteHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'outport-azurite-'))
  const port = await freePort()
  const main = join(import.meta.dirname, '../../node_modules/azurite/dist/src/blob/main.js')
  const child = spawn(process.execPath, [main, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir, '--skipApiVersionCheck', '--loose', '--silent', '--disableTelemetry'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  await waitForPort(port, child, () => stderr, 'azurite')
  return {
    port,
    accountUrl: `http://127.0.0.1:${port}/${AZURITE_ACCOUNT.name}`,
    accountName: AZURITE_ACCOUNT.name,
    accountKey: AZURITE_ACCOUNT.key,
    stop: async () => {
      await stopChild(child)
      await rm(dir, { recursive: true, force: true })
    }
  }
}
