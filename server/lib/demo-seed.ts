import type { Db } from './db/client'
import { hashPassword } from './auth/passwords'
import { TOKEN_SCOPE_IDS } from '#shared/types/tokens'
import { createApiToken } from './auth/tokens'
import { buildWarehouse, planDemo } from './warehouse/demo'

export interface DemoOutput {
  warehouse: string
  users: Array<{ user_id: string, email: string, password: string, token: string, account_ids: string[], tag_ids: string[], transactions: number }>
}

/**
 * (Re)builds the demo warehouse and makes PostgreSQL agree with it: the same users, accounts and
 * tags under the same ids, and a fresh API token with every scope for each user.
 */
export async function seedDemo(db: Db, warehousePath: string, opts: { users: number, transactions: number, seed: number }): Promise<DemoOutput> {
  const plan = planDemo(opts)
  await buildWarehouse(warehousePath, plan, opts.seed)
  const users: DemoOutput['users'] = []
  for (const u of plan) {
    const passwordHash = await hashPassword(u.password)
    // A user from an earlier demo with another seed may hold the email under another id; moving
    // the id (ON UPDATE CASCADE) keeps Postgres and the warehouse on the same ids.
    await db.user.deleteMany({ where: { email: u.email, NOT: { id: u.user_id } } })
    await db.user.upsert({
      where: { id: u.user_id },
      create: { id: u.user_id, email: u.email, passwordHash, displayName: u.display_name },
      update: { email: u.email, passwordHash, displayName: u.display_name }
    })
    await syncNamed(db.account, u.user_id, u.accounts)
    await syncNamed(db.tag, u.user_id, u.tags)
    // The operator's demo: its tokens may do everything, as the command line's do.
    const { token } = await createApiToken(db, u.user_id, 'demo', { scopes: TOKEN_SCOPE_IDS })
    users.push({
      user_id: u.user_id,
      email: u.email,
      password: u.password,
      token,
      account_ids: u.accounts.map(a => a.id),
      tag_ids: u.tags.map(t => t.id),
      transactions: u.transactions
    })
  }
  return { warehouse: warehousePath, users }
}

interface NamedDelegate {
  deleteMany: (args: { where: { userId: string, id: { notIn: string[] } } }) => Promise<unknown>
  upsert: (args: { where: { id: string }, create: { id: string, userId: string, name: string }, update: { userId: string, name: string } }) => Promise<unknown>
}

async function syncNamed(delegate: NamedDelegate, userId: string, items: Array<{ id: string, name: string }>) {
  await delegate.deleteMany({ where: { userId, id: { notIn: items.map(i => i.id) } } })
  for (const item of items) {
    await delegate.upsert({
      where: { id: item.id },
      create: { id: item.id, userId, name: item.name },
      update: { userId, name: item.name }
    })
  }
}
