import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

/**
 * Secrets a user gives us to reach their own services (a Slack webhook URL), sealed at rest with
 * AES-256-GCM: `v1.<iv>.<tag>.<ciphertext>` in base64url. The key is derived (HKDF) from a server
 * secret under its own label, so a database dump alone reveals none of them.
 */

export function secretsKey(secret: string, label = 'user-secrets/v1'): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'outport', label, 32))
}

export function seal(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return ['v1', iv, cipher.getAuthTag(), body].map(part => typeof part === 'string' ? part : part.toString('base64url')).join('.')
}

/** The plaintext, or null when the value was sealed with another key or altered. */
export function unseal(key: Buffer, sealed: string): string | null {
  const [version, iv, tag, body] = sealed.split('.')
  if (version !== 'v1' || !iv || !tag || body === undefined) return null
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8')
  } catch {
    return null
  }
}
