import { Hash } from '@adonisjs/hash'
import { Scrypt } from '@adonisjs/hash/drivers/scrypt'

// The same scrypt (memory-hard) PHC format nuxt-auth-utils' hashPassword() writes, usable from the
// CLI without Nuxt.
const hasher = new Hash(new Scrypt({}))

export function hashPassword(password: string): Promise<string> {
  return hasher.make(password)
}

export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return hasher.verify(hash, password)
}
