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

/**
 * Spends the code and links the chat to its user, or returns null (unknown, expired or already
 * used) without changing anything. A chat belongs to one user at a time: linking it moves it.
 */
export async function redeemLinkCode(db: Db, code: string, chatId: bigint, now = new Date()): Promise<{ id: string, email: string } | null> {
  if (!CODE_SHAPE.test(code)) return null
  const codeHash = hashCode(code)
  return db.$transaction(async (tx) => {
    // The conditional update is the single-use guarantee: of two chats racing, one updates a row.
    const { count } = await tx.telegramLinkCode.updateMany({
      where: { codeHash, usedAt: null, expiresAt: { gt: now } },
      data: { usedAt: now }
    })
    if (count !== 1) return null
    const { userId } = await tx.telegramLinkCode.findUniqueOrThrow({ where: { codeHash }, select: { userId: true } })
    await tx.user.updateMany({ where: { telegramChatId: chatId, NOT: { id: userId } }, data: { telegramChatId: null } })
    return tx.user.update({ where: { id: userId }, data: { telegramChatId: chatId }, select: { id: true, email: true } })
  })
}

/** Unlinks whoever uses this chat (/stop, or Telegram says the bot was blocked); the count unlinked. */
export async function unlinkChat(db: Db, chatId: bigint): Promise<number> {
  const { count } = await db.user.updateMany({ where: { telegramChatId: chatId }, data: { telegramChatId: null } })
  return count
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
