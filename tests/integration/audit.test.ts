import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expireAuditEvents, listAuditEvents, recordAuditEvent } from '#server/lib/audit'
import { createApiToken, findUserByToken, listApiTokens, revokeApiToken } from '#server/lib/auth/tokens'
import { createDb, type Db } from '#server/lib/db/client'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

describe('audit trail and API tokens on PostgreSQL', () => {
  let database: TestDatabase
  let db: Db
  let userId: string
  let otherId: string

  beforeAll(async () => {
    database = await createTestDatabase()
    db = createDb(database.url, { max: 4 })
    userId = (await db.user.create({ data: { email: 'a@example.com', passwordHash: 'x', displayName: 'A' } })).id
    otherId = (await db.user.create({ data: { email: 'b@example.com', passwordHash: 'x', displayName: 'B' } })).id
  })
  afterAll(async () => {
    await db?.$disconnect()
    await database?.drop()
  })

  it('lists only the user\'s events, newest first, a page at a time, and retention deletes old ones', async () => {
    for (let i = 0; i < 5; i++) {
      expect(await recordAuditEvent(db, { userId, action: 'export.created', objectId: `job-${i}`, ip: '203.0.113.1', userAgent: 'ua' })).toBe(true)
      // created_at has millisecond precision: events within one millisecond have no order to check.
      await sleep(2)
    }
    await recordAuditEvent(db, { userId: otherId, action: 'session.signed_in' })
    // A user that does not exist violates the foreign key: not written, and not thrown either.
    expect(await recordAuditEvent(db, { userId: '00000000-0000-4000-8000-000000000000', action: 'session.signed_in' }, { log: () => {} })).toBe(false)

    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = (await listAuditEvents(db, userId, { limit: 2, cursor }))!
      seen.push(...page.events.map(e => e.object_id!))
      cursor = page.nextCursor ?? undefined
    } while (cursor)
    expect(seen).toEqual(['job-4', 'job-3', 'job-2', 'job-1', 'job-0'])
    expect(await listAuditEvents(db, userId, { limit: 2, cursor: 'garbage' })).toBeNull()

    await db.auditEvent.updateMany({ where: { userId, objectId: { in: ['job-0', 'job-1'] } }, data: { createdAt: new Date(Date.now() - 401 * 86_400_000) } })
    expect(await expireAuditEvents(db, 400, new Date(), 1)).toBe(2)
    expect((await listAuditEvents(db, userId, { limit: 10 }))!.events.map(e => e.object_id)).toEqual(['job-4', 'job-3', 'job-2'])
    expect((await listAuditEvents(db, otherId, { limit: 10 }))!.events).toHaveLength(1)
  })

  it('tokens: the limit counts usable ones, expired and revoked ones stop authenticating', async () => {
    const a = await createApiToken(db, userId, 'a', { maxPerUser: 2 })
    const b = await createApiToken(db, userId, 'b', { maxPerUser: 2, expiresInDays: 1 })
    await expect(createApiToken(db, userId, 'c', { maxPerUser: 2 })).rejects.toMatchObject({ statusCode: 400 })
    expect(await findUserByToken(db, b.token)).toMatchObject({ id: userId, tokenId: b.id })

    await db.apiToken.update({ where: { id: b.id }, data: { expiresAt: new Date(Date.now() - 1000) } })
    expect(await findUserByToken(db, b.token)).toBeNull()
    // The expired one no longer counts against the limit.
    const c = await createApiToken(db, userId, 'c', { maxPerUser: 2 })
    expect((await listApiTokens(db, userId)).map(t => [t.name, t.expired])).toEqual([['c', false], ['b', true], ['a', false]])

    expect(await revokeApiToken(db, otherId, a.id)).toBeNull()
    expect(await revokeApiToken(db, userId, a.id)).toMatchObject({ id: a.id })
    expect(await revokeApiToken(db, userId, a.id)).toBeNull()
    expect(await findUserByToken(db, a.token)).toBeNull()
    expect(await findUserByToken(db, c.token)).toMatchObject({ id: userId })
  })

  it('the per-user limit holds under concurrent creations', async () => {
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => createApiToken(db, otherId, `t${i}`, { maxPerUser: 3 })))
    expect(results.filter(r => r.status === 'fulfilled')).toHaveLength(3)
  })
})
