import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { loadConfig } from '#server/lib/config'
import { createDb, type Db } from '#server/lib/db/client'
import { createLinkCode, LINK_CODE_TTL_MS } from '#server/lib/telegram/linking'
import { REPLIES } from '#server/lib/telegram/messages'
import type { TelegramService } from '#server/lib/telegram/service'
import { createTelegramService } from '#server/lib/telegram/service'
import { createTestDatabase, type TestDatabase } from '../../helpers/database'
import { FAKE_BOT, messageUpdate, startFakeTelegram, type FakeTelegram } from '../../helpers/fake-telegram'

describe('Telegram bot commands', () => {
  let database: TestDatabase
  let db: Db
  let fake: FakeTelegram
  let service: TelegramService
  let alice: { id: string, email: string }
  let bob: { id: string, email: string }
  let logs: string[]

  const config = (extra: Record<string, string> = {}) => loadConfig({
    DATABASE_URL: database.url,
    S3_EXPORTS_BUCKET: 'outport-test',
    NUXT_SESSION_PASSWORD: 'unit-test-session-password-long-enough-0123456789',
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.url,
    TELEGRAM_MODE: 'polling',
    ...extra
  })
  const chatOf = async (userId: string) => (await db.user.findUniqueOrThrow({ where: { id: userId } })).telegramChatId
  const replies = (chatId: number) => fake.messages(chatId).map(m => m.text)

  beforeAll(async () => {
    database = await createTestDatabase()
    db = createDb(database.url, { max: 4 })
    fake = await startFakeTelegram()
    alice = await db.user.create({ data: { email: 'alice@example.com', passwordHash: 'x', displayName: 'Alice' } })
    bob = await db.user.create({ data: { email: 'bob@example.com', passwordHash: 'x', displayName: 'Bob' } })
    service = createTelegramService({ config: config(), db }, { log: line => logs.push(line) })!
  })
  afterAll(async () => {
    await service?.close()
    await fake?.close()
    await db?.$disconnect()
    await database?.drop()
  })
  beforeEach(async () => {
    fake.reset()
    logs = []
    await db.user.updateMany({ data: { telegramChatId: null } })
    await db.telegramLinkCode.deleteMany()
  })

  it('is off without a bot token, and knows its username from getMe', async () => {
    expect(createTelegramService({ config: config({ TELEGRAM_BOT_TOKEN: '' }), db })).toBeNull()
    expect(await service.username()).toBe(FAKE_BOT.username)
  })

  it('/start <code> links the chat once; the code is stored only as a hash', async () => {
    const { code, expiresAt } = await createLinkCode(db, alice.id)
    expect(expiresAt.getTime() - Date.now()).toBeGreaterThan(LINK_CODE_TTL_MS - 5000)
    const rows = await db.telegramLinkCode.findMany()
    expect(JSON.stringify(rows)).not.toContain(code)

    await service.handleUpdate(messageUpdate(1001, `/start ${code}`) as never)
    expect(await chatOf(alice.id)).toBe(1001n)
    expect(replies(1001)).toEqual([REPLIES.linked('alice@example.com')])

    // Reused from another chat: a polite reply, and nothing moves.
    await service.handleUpdate(messageUpdate(1002, `/start ${code}`) as never)
    expect(await chatOf(alice.id)).toBe(1001n)
    expect(replies(1002)).toEqual([REPLIES.badCode])
  })

  it('bad and expired codes change nothing', async () => {
    const { code } = await createLinkCode(db, alice.id)
    await db.telegramLinkCode.updateMany({ data: { expiresAt: new Date(Date.now() - 1000) } })
    for (const text of [`/start ${code}`, '/start nope', `/start ${'A'.repeat(16)}`, `/start ${code}x`]) {
      await service.handleUpdate(messageUpdate(1003, text) as never)
    }
    expect(replies(1003)).toEqual(Array(4).fill(REPLIES.badCode))
    expect(await chatOf(alice.id)).toBeNull()
    expect(await db.telegramLinkCode.count({ where: { usedAt: { not: null } } })).toBe(0)
  })

  it('a new code voids the previous one', async () => {
    const first = await createLinkCode(db, alice.id)
    const second = await createLinkCode(db, alice.id)
    await service.handleUpdate(messageUpdate(1004, `/start ${first.code}`) as never)
    expect(await chatOf(alice.id)).toBeNull()
    await service.handleUpdate(messageUpdate(1004, `/start ${second.code}`) as never)
    expect(await chatOf(alice.id)).toBe(1004n)
  })

  it('a chat linked to Alice is not moved to Bob by his code: refused, nothing changes, the code stays unspent', async () => {
    await service.handleUpdate(messageUpdate(1005, `/start ${(await createLinkCode(db, alice.id)).code}`) as never)
    await service.handleUpdate(messageUpdate(1008, `/start ${(await createLinkCode(db, bob.id)).code}`) as never)
    const bobsCode = (await createLinkCode(db, bob.id)).code
    await service.handleUpdate(messageUpdate(1005, `/start ${bobsCode}`) as never)
    expect(replies(1005)).toEqual([REPLIES.linked('alice@example.com'), REPLIES.linkedToAnother])
    expect(REPLIES.linkedToAnother).toContain('This chat is linked to another Outport account; send /stop first')
    expect(await chatOf(alice.id)).toBe(1005n)
    expect(await chatOf(bob.id)).toBe(1008n)
    expect(await db.telegramLinkCode.count({ where: { userId: bob.id, usedAt: null } })).toBe(1)

    // After /stop the same code links the chat to Bob (and moves Bob there).
    await service.handleUpdate(messageUpdate(1005, '/stop') as never)
    await service.handleUpdate(messageUpdate(1005, `/start ${bobsCode}`) as never)
    expect(replies(1005).at(-1)).toBe(REPLIES.linked('bob@example.com'))
    expect(await chatOf(alice.id)).toBeNull()
    expect(await chatOf(bob.id)).toBe(1005n)
  })

  it('a user\'s own fresh code re-links their chat', async () => {
    await service.handleUpdate(messageUpdate(1009, `/start ${(await createLinkCode(db, alice.id)).code}`) as never)
    await service.handleUpdate(messageUpdate(1009, `/start ${(await createLinkCode(db, alice.id)).code}`) as never)
    expect(replies(1009)).toEqual([REPLIES.linked('alice@example.com'), REPLIES.linked('alice@example.com')])
    expect(await chatOf(alice.id)).toBe(1009n)
  })

  it('two users\' codes sent at once from one free chat link it to exactly one of them', async () => {
    const [a, b] = [(await createLinkCode(db, alice.id)).code, (await createLinkCode(db, bob.id)).code]
    await Promise.all([
      service.handleUpdate(messageUpdate(1010, `/start ${a}`) as never),
      service.handleUpdate(messageUpdate(1010, `/start ${b}`) as never)
    ])
    expect(await db.user.count({ where: { telegramChatId: 1010n } })).toBe(1)
    expect(replies(1010)).toHaveLength(2)
    expect(replies(1010)).toContain(REPLIES.linkedToAnother)
    expect(replies(1010).filter(text => text.startsWith('Connected to Outport as'))).toHaveLength(1)
  })

  it('/start alone explains; /stop unlinks; group chats are refused', async () => {
    await service.handleUpdate(messageUpdate(1006, '/start') as never)
    await service.handleUpdate(messageUpdate(1006, `/start ${(await createLinkCode(db, alice.id)).code}`) as never)
    await service.handleUpdate(messageUpdate(1006, '/start') as never)
    await service.handleUpdate(messageUpdate(1006, '/stop') as never)
    await service.handleUpdate(messageUpdate(1006, '/stop') as never)
    expect(replies(1006)).toEqual([REPLIES.hello, REPLIES.linked('alice@example.com'), REPLIES.alreadyLinked, REPLIES.stopped, REPLIES.notLinked])
    expect(await chatOf(alice.id)).toBeNull()

    const { code } = await createLinkCode(db, alice.id)
    await service.handleUpdate(messageUpdate(-2001, `/start ${code}`, { chatType: 'group' }) as never)
    expect(replies(-2001)).toEqual([REPLIES.privateOnly])
    expect(await chatOf(alice.id)).toBeNull()
  })

  it('a failing reply is logged and never thrown', async () => {
    fake.fail('sendMessage', { status: 500, description: 'Internal Server Error' })
    await expect(service.handleUpdate(messageUpdate(1007, '/start') as never)).resolves.toBeUndefined()
    expect(logs.join('\n')).toMatch(/update \d+ failed: 500/)
    expect(process.exitCode ?? 0).toBe(0)
  })

  it('long polling (TELEGRAM_MODE=polling) feeds the same handlers, and stops on close', async () => {
    const polling = createTelegramService({ config: config(), db }, { log: line => logs.push(line) })!
    polling.startPolling()
    try {
      const { code } = await createLinkCode(db, bob.id)
      fake.pushUpdate(messageUpdate(1008, `/start ${code}`))
      await fake.waitFor(() => fake.messages(1008).length === 1)
      expect(replies(1008)).toEqual([REPLIES.linked('bob@example.com')])
      expect(await chatOf(bob.id)).toBe(1008n)
      expect(fake.requests.find(r => r.method === 'deleteWebhook')).toBeDefined()
      fake.pushUpdate(messageUpdate(1008, '/stop'))
      await fake.waitFor(() => fake.messages(1008).length === 2)
      expect(await chatOf(bob.id)).toBeNull()
    } finally {
      const started = Date.now()
      await polling.close()
      expect(Date.now() - started).toBeLessThan(3000)
    }
    // Each update was handled once: the offset moved past it.
    expect(replies(1008)).toEqual([REPLIES.linked('bob@example.com'), REPLIES.stopped])
  })
})
