import { Hash } from '@adonisjs/hash'
import { Scrypt } from '@adonisjs/hash/drivers/scrypt'

/**
 * OWASP's current scrypt guidance (Password Storage Cheat Sheet): N=2^17, r=8, p=1, which takes
 * 128 MiB and ~0.4 s per hash on an idle core. Node refuses to run scrypt once 128·N·r reaches
 * maxmem, so maxMemory leaves headroom above what these parameters need.
 */
export const SCRYPT_PARAMS = { cost: 2 ** 17, blockSize: 8, parallelization: 1 } as const

// The same scrypt (memory-hard) PHC format nuxt-auth-utils' hashPassword() writes, usable from the
// CLI without Nuxt. Hashes record their own parameters, so ones made under older (cheaper)
// parameters still verify; needsReHash() tells sign-in to replace them.
const hasher = new Hash(new Scrypt({
  ...SCRYPT_PARAMS,
  maxMemory: 2 * 128 * SCRYPT_PARAMS.cost * SCRYPT_PARAMS.blockSize
}))

export function hashPassword(password: string): Promise<string> {
  return hasher.make(password)
}

export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return hasher.verify(hash, password)
}

/** Whether a stored hash was made under other parameters than today's (re-hash it at sign-in). */
export function needsReHash(hash: string): boolean {
  return hasher.needsReHash(hash)
}
