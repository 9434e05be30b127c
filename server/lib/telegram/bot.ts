import { Telegraf } from 'telegraf'
import { recordAuditEvent } from '../audit'
import type { Db } from '../db/client'
import { isChatLinked, redeemLinkCode, unlinkChat } from './linking'
import { REPLIES } from './messages'

export interface BotOptions {
  token: string
  /** Another Bot API server (a local one, a test fake); Telegram's own by default. */
  apiRoot?: string
  db: Db
  log: (line: string) => void
  /** Told when a chat was linked to a user. */
  onLinked?: (userId: string) => void
}

/**
 * The bot and its commands: `/start <code>` links the chat to the user who created the code (a
 * chat linked to someone else is refused until /stop), `/start` alone says how to, `/stop` unlinks. Webhook and long polling feed the same bot.
 */
export function createBot({ token, apiRoot, db, log, onLinked }: BotOptions): Telegraf {
  const bot = new Telegraf(token, {
    telegram: {
      // telegraf resolves `./bot<token>/<method>` against the root: a root with a path needs its
      // trailing slash, or the path is dropped.
      ...(apiRoot && { apiRoot: apiRoot.endsWith('/') ? apiRoot : `${apiRoot}/` }),
      // Replies are real API calls, so their failures surface here instead of vanishing into the
      // webhook's HTTP response.
      webhookReply: false
    }
  })

  bot.start(async (ctx) => {
    if (ctx.chat.type !== 'private') return void await ctx.reply(REPLIES.privateOnly)
    const chatId = BigInt(ctx.chat.id)
    const code = ctx.payload.trim()
    if (!code) return void await ctx.reply(await isChatLinked(db, chatId) ? REPLIES.alreadyLinked : REPLIES.hello)
    const result = await redeemLinkCode(db, code, chatId)
    // No HTTP request behind it: no IP or user agent, the chat is the detail.
    if (result.outcome === 'linked') {
      await recordAuditEvent(db, { userId: result.user.id, action: 'telegram.linked', details: { chat_id: String(chatId) } }, { log })
      onLinked?.(result.user.id)
    }
    await ctx.reply(result.outcome === 'linked'
      ? REPLIES.linked(result.user.email)
      : result.outcome === 'chat-taken' ? REPLIES.linkedToAnother : REPLIES.badCode)
  })

  bot.command('stop', async (ctx) => {
    const unlinked = await unlinkChat(db, BigInt(ctx.chat.id))
    for (const userId of unlinked) {
      await recordAuditEvent(db, { userId, action: 'telegram.unlinked', details: { via: 'bot', chat_id: String(ctx.chat.id) } }, { log })
    }
    await ctx.reply(unlinked.length ? REPLIES.stopped : REPLIES.notLinked)
  })

  // telegraf's default handler sets process.exitCode = 1 and rethrows; an update we could not
  // handle is logged and dropped (Telegram would only redeliver it).
  bot.catch((error, ctx) => {
    log(`Telegram update ${ctx.update.update_id} failed: ${(error as Error).message}`)
  })
  return bot
}

type CallOptions = NonNullable<Parameters<Telegraf['telegram']['callApi']>[2]>

/**
 * Options for `telegram.callApi` that give up after `ms` (or once `signal` aborts): without a signal, a call to an
 * unresponsive API waits telegraf's 500 s. (telegraf types the signal with the `abort-controller`
 * polyfill's class; its node-fetch accepts the platform's.)
 */
export function withTimeout(ms: number, signal?: AbortSignal): CallOptions {
  const timeout = AbortSignal.timeout(ms)
  return { signal: signal ? AbortSignal.any([signal, timeout]) : timeout } as unknown as CallOptions
}
