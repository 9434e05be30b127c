import { afterEach, describe, expect, it } from 'vitest'
import { auditWriteFailures, onAuditWriteFailed, recordAuditEvent, type AuditEvent } from '#server/lib/audit'

type AuditDb = Parameters<typeof recordAuditEvent>[0]

const EVENT: AuditEvent = { userId: '00000000-0000-4000-8000-000000000001', action: 'export.created', objectId: 'job-1', ip: '203.0.113.7', userAgent: 'ua' }

describe('recordAuditEvent', () => {
  const unsubscribe: (() => void)[] = []
  afterEach(() => unsubscribe.splice(0).forEach(fn => fn()))

  it('writes the event', async () => {
    const rows: unknown[] = []
    const db = { auditEvent: { create: async (args: { data: unknown }) => void rows.push(args.data) } } as unknown as AuditDb
    expect(await recordAuditEvent(db, { ...EVENT, userAgent: 'x'.repeat(2000) })).toBe(true)
    expect(rows).toEqual([expect.objectContaining({ userId: EVENT.userId, action: 'export.created', objectId: 'job-1', ip: '203.0.113.7', tokenId: null })])
    expect((rows[0] as { userAgent: string }).userAgent).toHaveLength(512)
  })

  it('never throws when the write fails: logs it, counts it and tells the listeners', async () => {
    const db = { auditEvent: { create: () => Promise.reject(new Error('permission denied for table audit_events')) } } as unknown as AuditDb
    const logs: string[] = []
    const heard: AuditEvent[] = []
    unsubscribe.push(onAuditWriteFailed((_error, event) => heard.push(event)))
    // A listener that throws must not break the request either.
    unsubscribe.push(onAuditWriteFailed(() => {
      throw new Error('broken metrics')
    }))
    const before = auditWriteFailures()

    await expect(recordAuditEvent(db, EVENT, { log: line => logs.push(line) })).resolves.toBe(false)
    expect(auditWriteFailures()).toBe(before + 1)
    expect(heard).toEqual([EVENT])
    expect(logs).toEqual([expect.stringMatching(/could not record export\.created .*job-1.*permission denied/)])
  })

  it('survives a db that throws synchronously', async () => {
    const db = { auditEvent: {
      create: () => {
        throw new TypeError('not a client')
      }
    } } as unknown as AuditDb
    const logs: string[] = []
    await expect(recordAuditEvent(db, EVENT, { log: line => logs.push(line) })).resolves.toBe(false)
    expect(logs).toHaveLength(1)
  })
})
