import type { Db } from './db/client'
import { hashPassword } from './auth/passwords'

export async function createUser(db: Db, input: { email: string, password: string, displayName?: string }) {
  const email = input.email.trim().toLowerCase()
  return db.user.create({
    data: {
      email,
      passwordHash: await hashPassword(input.password),
      displayName: input.displayName ?? email.split('@')[0]!
    },
    select: { id: true, email: true, displayName: true }
  })
}
