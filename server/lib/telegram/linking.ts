import { createHash, randomBytes } from 'node:crypto'
import type { Db } from '../db/client'

/**
 * One-time codes that link a Telegram chat to a user: the app shows the code, the user sends
 * `/start <code>` to the bot (a t.me deep link does that in one tap). Codes have 96 random bits
 * and live 15 minutes, so a fast hash is enough to keep them useless to someone reading the table.
 */

export const LINK_CODE_TTL_MS = 15 * 60_000

// 16 base64url characters: also valid as a t.me `start` parameter (A-Z, a-z, 0-9, _ and -).
const CODE_SHAPE = /^[A-Za-z0-9_-]{16}$/

function hashCode(code: string): string {
  return createHash('sha256').update(code).digest('hex')
}

/** A fresh code; the user's earlier codes stop working, and long-expired ones are cleared away. */
export async function createLinkCode(db: Db, userId: string, now = new Date()): Promise<{ code: string, expiresAt: Date }> {
  const code = randomBytes(12).toString('base64url')
  const expiresAt = new Date(now.getTime() + LINK_CODE_TTL_MS)
  await db.$transaction([
    db.telegramLinkCode.deleteMany({ where: { OR: [{ userId }, { expiresAt: { lt: new Date(now.getTime() - 24 * 3600_000) } }] } }),
    db.telegramLinkCode.create({ data: { userId, codeHash: hashCode(code), expiresAt } })
  ])
  return { code, expiresAt }
}

export type RedeemOutcome
  = | { outcome: 'linked', user: { id: string, email: string } }
    /** Unknown, expired or already used: nothing changed. */
    | { outcome: 'invalid' }
    /** The chat is linked to another user: nothing changed, and the code still works. */
    | { outcome: 'chat-taken' }

/**
 * Spends the code and links the chat to its user. A chat belongs to one user at a time, and a code
 * never moves a chat from one user to another: sent from a chat linked to someone else (a deep
 * link from another account, perhaps planted by its owner, tapped in the victim's chat), it is
 * refused and left unspent, so after /stop the same link works. A user's own code re-links their
 * chat, or moves them to a new one.
 */
export async function redeemLinkCode(db: Db, code: string, chatId: bigint, now = new Date()): Promise<RedeemOutcome> {
  if (!CODE_SHAPE.test(code)) return { outcome: 'invalid' }
  const codeHash = hashCode(code)
  return db.$transaction(async (tx) => {
    // One redemption per chat at a time: two codes of different users sent at once from the same
    // chat must not both find it free.
    await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtextextended(${`outport:telegram-chat:${chatId}`}, 0))`
    const row = await tx.telegramLinkCode.findFirst({ where: { codeHash, usedAt: null, expiresAt: { gt: now } }, select: { userId: true } })
    if (!row) return { outcome: 'invalid' }
    const owner = await tx.user.findFirst({ where: { telegramChatId: chatId, NOT: { id: row.userId } }, select: { id: true } })
    if (owner) return { outcome: 'chat-taken' }
    // The conditional update is the single-use guarantee: of two chats racing, one updates a row.
    const { count } = await tx.telegramLinkCode.updateMany({
      where: { codeHash, usedAt: null, expiresAt: { gt: now } },
      data: { usedAt: now }
    })
    if (count !== 1) return { outcome: 'invalid' }
    const user = await tx.user.update({ where: { id: row.userId }, data: { telegramChatId: chatId }, select: { id: true, email: true } })
    return { outcome: 'linked', user }
  })
}

/** Unlinks whoever uses this chat (/stop, or Telegram says the bot was blocked); the ids of the users unlinked. */
export async function unlinkChat(db: Db, chatId: bigint): Promise<string[]> {
  const rows = await db.user.updateManyAndReturn({ where: { telegramChatId: chatId }, data: { telegramChatId: null }, select: { id: true } })
  return rows.map(r => r.id)
}

export async function unlinkUser(db: Db, userId: string): Promise<void> {
  await db.$transaction([
    db.user.update({ where: { id: userId }, data: { telegramChatId: null } }),
    db.telegramLinkCode.deleteMany({ where: { userId } })
  ])
}

export async function isChatLinked(db: Db, chatId: bigint): Promise<boolean> {
  return (await db.user.count({ where: { telegramChatId: chatId } })) > 0
}
