import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * A stand-in for Telegram's Bot API over real HTTP (`POST /bot<token>/<method>`, JSON in and out),
 * for telegraf's `telegram.apiRoot`. It records every request, answers getMe, sendMessage,
 * setWebhook, deleteWebhook and getUpdates (long polling from queued updates), and can be told to
 * answer a method with an error (403, 429 with retry_after, 500, or an HTML page) a number of times.
 */

export interface RecordedRequest { method: string, token: string, body: Record<string, unknown>, at: number }

/**
 * `html`: the answer is that text as an HTML page instead of the Bot API's JSON, as a proxy or a
 * captive portal in front of Telegram would send it.
 */
export interface FakeFailure { status: number, description: string, retryAfter?: number, html?: string }

export const FAKE_BOT = { id: 7000001, is_bot: true, first_name: 'Outport Test', username: 'outport_test_bot' } as const

export interface FakeTelegram {
  /** The apiRoot to give telegraf (TELEGRAM_API_ROOT). */
  url: string
  token: string
  requests: RecordedRequest[]
  /** sendMessage payloads, optionally for one chat. */
  messages: (chatId?: number) => Array<{ chat_id: number, text: string, parse_mode?: string, link_preview_options?: unknown }>
  /** Answers the next `times` calls of `method` with this failure. */
  fail: (method: string, failure: FakeFailure, times?: number) => void
  /** Queues an update for getUpdates. */
  pushUpdate: (update: Record<string, unknown>) => void
  /** Resolves once `predicate` holds for the recorded requests. */
  waitFor: (predicate: (requests: RecordedRequest[]) => boolean, timeoutMs?: number) => Promise<void>
  reset: () => void
  close: () => Promise<void>
}

export const FAKE_TOKEN = '123456789:TEST-fake-token_abcdefghijklmnopqrstu'

/** `port` restarts a fake where a stopped one was (an outage that ends). */
export async function startFakeTelegram(opts: { token?: string, port?: number } = {}): Promise<FakeTelegram> {
  const token = opts.token ?? FAKE_TOKEN
  const requests: RecordedRequest[] = []
  const failures = new Map<string, Array<FakeFailure>>()
  let updates: Array<Record<string, unknown>> = []
  const waiting = new Set<() => void>()
  let messageId = 0
  let closed = false

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const match = /^\/bot([^/]+)\/(\w+)$/.exec(req.url ?? '')
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    if (!match) return reply(res, 404, { ok: false, error_code: 404, description: 'Not Found' })
    const [, reqToken, method] = match as unknown as [string, string, string]
    const raw = Buffer.concat(chunks).toString('utf8')
    const body = raw ? JSON.parse(raw) as Record<string, unknown> : {}
    requests.push({ method, token: reqToken, body, at: Date.now() })
    if (reqToken !== token) return reply(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' })

    const failure = failures.get(method)?.shift()
    if (failure?.html !== undefined) {
      res.writeHead(failure.status, { 'content-type': 'text/html' })
      return res.end(failure.html)
    }
    if (failure) {
      return reply(res, failure.status, {
        ok: false,
        error_code: failure.status,
        description: failure.description,
        ...(failure.retryAfter !== undefined && { parameters: { retry_after: failure.retryAfter } })
      })
    }
    switch (method) {
      case 'getMe':
        return reply(res, 200, { ok: true, result: { ...FAKE_BOT, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false } })
      case 'sendMessage':
        return reply(res, 200, {
          ok: true,
          result: { message_id: ++messageId, date: Math.floor(Date.now() / 1000), chat: { id: body.chat_id, type: 'private' }, text: body.text }
        })
      case 'setWebhook':
      case 'deleteWebhook':
        return reply(res, 200, { ok: true, result: true })
      case 'getUpdates': {
        const offset = Number(body.offset ?? 0)
        updates = updates.filter(u => Number(u.update_id) >= offset)
        const deadline = Date.now() + Math.min(Number(body.timeout ?? 0), 5) * 1000
        while (!updates.length && Date.now() < deadline && !res.destroyed && !closed) {
          await new Promise<void>((resolve) => {
            waiting.add(resolve)
            setTimeout(resolve, 100)
          })
        }
        return reply(res, 200, { ok: true, result: updates })
      }
      default:
        return reply(res, 400, { ok: false, error_code: 400, description: `Bad Request: fake does not know ${method}` })
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(error => reply(res, 500, { ok: false, error_code: 500, description: String(error) }))
  })
  await new Promise<void>(resolve => server.listen(opts.port ?? 0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}/`,
    token,
    requests,
    messages: chatId => requests
      .filter(r => r.method === 'sendMessage' && (chatId === undefined || r.body.chat_id === chatId))
      .map(r => r.body as never),
    fail: (method, failure, times = 1) => {
      const list = failures.get(method) ?? []
      for (let i = 0; i < times; i++) list.push(failure)
      failures.set(method, list)
    },
    pushUpdate: (update) => {
      updates.push(update)
      for (const wake of waiting) wake()
      waiting.clear()
    },
    waitFor: async (predicate, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs
      while (!predicate(requests)) {
        if (Date.now() > deadline) throw new Error(`fake Telegram: condition not met in ${timeoutMs} ms; requests: ${JSON.stringify(requests.map(r => r.method))}`)
        await sleep(25)
      }
    },
    reset: () => {
      requests.length = 0
      failures.clear()
      updates = []
    },
    close: () => new Promise((resolve) => {
      closed = true
      for (const wake of waiting) wake()
      server.closeAllConnections()
      server.close(() => resolve())
    })
  }
}

let nextUpdateId = 1000

/** A private-chat message as Telegram delivers it; a leading /command gets its bot_command entity. */
export function messageUpdate(chatId: number, text: string, opts: { chatType?: 'private' | 'group' } = {}): Record<string, unknown> {
  const command = /^\/\w+/.exec(text)
  const type = opts.chatType ?? 'private'
  return {
    update_id: ++nextUpdateId,
    message: {
      message_id: nextUpdateId,
      date: Math.floor(Date.now() / 1000),
      chat: type === 'private' ? { id: chatId, type, first_name: 'Test' } : { id: chatId, type, title: 'A group' },
      from: { id: Math.abs(chatId), is_bot: false, first_name: 'Test' },
      text,
      ...(command && { entities: [{ type: 'bot_command', offset: 0, length: command[0].length }] })
    }
  }
}
