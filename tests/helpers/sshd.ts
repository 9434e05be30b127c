import { execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { stopChild, waitForPort } from './children'
import { freePort } from './server'

const run = promisify(execFile)

/** Debian's OpenSSH sshd on a loopback port, with a host key and a user key made here, for SFTP tests. */
export interface SshdHandle {
  port: number
  /** The account sshd runs as (the only one it can log in, unprivileged or root). */
  username: string
  /** The client's private key (OpenSSH format), authorised for `username`. */
  privateKey: string
  /** `SHA256:…` of the host key, as ssh-keygen -lf prints it. */
  hostKeySha256: string
  /** A folder the user may write to; the SFTP tests' files go under it. */
  root: string
  stop: () => Promise<void>
}

export async function startSshd(): Promise<SshdHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'outport-sshd-'))
  const root = join(dir, 'files')
  await mkdir(root)
  await mkdir('/run/sshd', { recursive: true }).catch(() => {})
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')])
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'user_key')])
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'user_key.pub')), { mode: 0o600 })
  const { stdout } = await run('ssh-keygen', ['-lf', join(dir, 'host_key.pub')])
  const hostKeySha256 = stdout.split(' ')[1]!
  const port = await freePort()
  await writeFile(join(dir, 'sshd_config'), [
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    ''
  ].join('\n'))
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config'), '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-10_000)
  })
  await waitForPort(port, child, () => stderr, 'sshd')
  return {
    port,
    username: userInfo().username,
    privateKey: await readFile(join(dir, 'user_key'), 'utf8'),
    hostKeySha256,
    root,
    stop: async () => {
      await stopChild(child)
      await rm(dir, { recursive: true, force: true })
    }
  }
}
