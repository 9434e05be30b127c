import { createHash, randomUUID } from 'node:crypto'
import { posix } from 'node:path'
import SftpClient from 'ssh2-sftp-client'
import type { SftpConfig, SftpCredentials } from '#shared/types/destinations'
import { staticFolder } from '../template'
import { DestinationError, describe, vetEndpoint, type Driver, type DriverDeps, type TestSteps } from './driver'

/**
 * SFTP (OpenSSH and the like): a private key or a password, the server's host key pinned by its
 * SHA-256 fingerprint. The file is streamed to a temporary name in the target folder and renamed
 * once its size checks out, so a reader never sees half a file.
 */

/** `SHA256:` + unpadded base64 of the key blob's digest, as `ssh-keygen -lf` prints it. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`
}

interface Session {
  sftp: SftpClient
  /** The fingerprint the server presented, once it did. */
  presented: string | null
}

/** Where each phase of connecting ended: the test tells them apart. */
type Phase = 'connect' | 'host_key' | 'authenticate'

class ConnectError extends DestinationError {
  constructor(readonly phase: Phase, message: string, readonly presented: string | null) {
    super(message)
  }
}

async function open(config: SftpConfig, credentials: SftpCredentials, deps: DriverDeps, marks: { hostKeyAt?: number } = {}): Promise<Session> {
  // The webhook rules, checked at every use, then the checked address is the one connected to.
  const vetted = await vetEndpoint(`https://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}/`, deps, 'host')
  const sftp = new SftpClient('outport')
  let presented: string | null = null
  try {
    await sftp.connect({
      host: vetted.address,
      port: config.port,
      username: config.username,
      ...(credentials.private_key ? { privateKey: credentials.private_key, passphrase: credentials.passphrase } : { password: credentials.password }),
      readyTimeout: deps.timeoutMs,
      keepaliveInterval: Math.max(1000, Math.round(deps.timeoutMs / 3)),
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        presented = hostKeyFingerprint(key)
        marks.hostKeyAt = performance.now()
        return config.host_key_sha256 === presented
      }
    })
  } catch (error) {
    await sftp.end().catch(() => {})
    const message = describe(error)
    if (!presented) throw new ConnectError('connect', `Could not connect to ${config.host}:${config.port}: ${message}`, null)
    if (!config.host_key_sha256) throw new ConnectError('host_key', `Not pinned yet: the server presented ${presented}. Check it with the server's owner, then save it as host_key_sha256`, presented)
    if (config.host_key_sha256 !== presented) throw new ConnectError('host_key', `The server's host key ${presented} does not match the pinned ${config.host_key_sha256}: refusing to send (the key changed, or someone is in between)`, presented)
    throw new ConnectError('authenticate', `${config.username} could not sign in with the ${credentials.private_key ? 'private key' : 'password'}: ${message}`, presented)
  }
  return { sftp, presented }
}

function location(config: SftpConfig, path: string): string {
  return `sftp://${config.host}${config.port === 22 ? '' : `:${config.port}`}${path.startsWith('/') ? '' : '/~/'}${path}`
}

export const sftpDriver: Driver<SftpConfig, SftpCredentials> = {
  absolutePaths: true,

  async test(config, credentials, deps, steps: TestSteps) {
    const started = performance.now()
    const marks: { hostKeyAt?: number } = {}
    let session: Session | undefined
    try {
      session = await open(config, credentials, deps, marks)
    } catch (error) {
      if (!(error instanceof ConnectError)) throw error
      steps.hostKeySha256 = error.presented
      const phases: Phase[] = ['connect', 'host_key', 'authenticate']
      for (const phase of phases.slice(0, phases.indexOf(error.phase))) {
        steps.add(phase, true, phase === 'connect' ? `Reached ${config.host}:${config.port}` : `The host key matches ${config.host_key_sha256}`, started)
      }
      steps.add(error.phase, false, error.message, marks.hostKeyAt ?? started)
      return
    }
    steps.hostKeySha256 = session.presented
    const { sftp } = session
    try {
      steps.add('connect', true, `Reached ${config.host}:${config.port}`, started)
      steps.add('host_key', true, `The host key matches ${config.host_key_sha256}`, marks.hostKeyAt ?? started)
      steps.add('authenticate', true, `Signed in as ${config.username}`, marks.hostKeyAt ?? started)
      const folder = staticFolder(config.path, { absolute: true }) || '.'
      await steps.run('directory', async () => {
        try {
          if (folder !== '.') await sftp.mkdir(folder, true)
        } catch (error) {
          throw new DestinationError(`Could not create the folder ${folder}: ${describe(error)}`)
        }
        return `Folder ${folder} is there`
      })
      const marker = posix.join(folder, `.outport-test-${randomUUID()}`)
      await steps.run('write', async () => {
        try {
          await sftp.put(Buffer.from('Outport destination test\n'), marker)
        } catch (error) {
          throw new DestinationError(`Could not write ${marker}: ${describe(error)}`)
        }
        return `Wrote ${location(config, marker)}`
      })
      await steps.run('delete', async () => {
        try {
          await sftp.delete(marker)
        } catch (error) {
          return `Could not delete the marker (${describe(error)}); writing works, which is what deliveries need. Delete ${marker} yourself`
        }
        return 'Deleted the marker'
      })
    } finally {
      await sftp.end().catch(() => {})
    }
  },

  async deliver(config, credentials, path, source, deps) {
    if (!config.host_key_sha256) throw new DestinationError('The server\'s host key is not pinned: test the destination and save the fingerprint as host_key_sha256')
    const { sftp } = await open(config, credentials, deps)
    const folder = posix.dirname(path)
    const temporary = posix.join(folder, `.${posix.basename(path)}.${randomUUID().slice(0, 8)}.part`)
    let written = false
    try {
      const body = await source.open()
      try {
        if (folder !== '.' && folder !== '/') await sftp.mkdir(folder, true)
        written = true
        await sftp.put(body, temporary)
      } catch (error) {
        body.destroy()
        throw new DestinationError(`Upload to ${location(config, path)} failed: ${describe(error)}`)
      }
      const { size } = await sftp.stat(temporary)
      if (size !== source.size) throw new DestinationError(`${location(config, temporary)} has ${size} bytes, expected ${source.size}`)
      try {
        // OpenSSH's posix-rename replaces an existing file atomically; plain SFTP rename refuses to.
        await sftp.posixRename(temporary, path)
      } catch (error) {
        throw new DestinationError(`Could not rename ${temporary} to ${path}: ${describe(error)}`)
      }
      written = false
      return { location: location(config, path), bytes: source.size }
    } finally {
      if (written) await sftp.delete(temporary, true).catch(() => {})
      await sftp.end().catch(() => {})
    }
  }
}
