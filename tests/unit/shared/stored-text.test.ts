import { describe, expect, it } from 'vitest'
import { CREATE_SCHEDULE } from '#server/lib/openapi/examples'
import { CreateScheduleSchema, UpdateScheduleSchema } from '#shared/types/schedules'
import { CreateWebhookSchema, UpdateNotificationSettingsSchema } from '#shared/types/notifications'
import { storedText } from '#shared/types/text'
import { CreateApiTokenSchema } from '#shared/types/tokens'

const UNSTORABLE = ['a\u0000b', 'end\u0000', 'lone \uD800 high', 'lone \uDC00 low', 'reversed \uDC00\uD800']

describe('stored text', () => {
  const text = storedText({ max: 10 })

  it.each(UNSTORABLE)('refuses %j', (value) => {
    expect(text.safeParse(value).success).toBe(false)
  })

  it('keeps what PostgreSQL stores as sent, trimmed', () => {
    expect(text.parse('  🙂 ok \u202Eé  ')).toBe('🙂 ok \u202Eé')
  })

  it('limits the length', () => {
    expect(text.safeParse('x'.repeat(11)).error?.issues[0]?.message).toBe('At most 10 characters')
  })
})

describe('every stored text field of a request', () => {
  const cases = [
    ['schedule name', CreateScheduleSchema, (v: string) => ({ ...CREATE_SCHEDULE, name: v }), 'name'],
    ['schedule name (change)', UpdateScheduleSchema, (v: string) => ({ name: v }), 'name'],
    ['webhook url', CreateWebhookSchema, (v: string) => ({ url: `https://example.com/${v}`, events: ['export.completed'] }), 'url'],
    ['webhook description', CreateWebhookSchema, (v: string) => ({ url: 'https://example.com/', events: ['export.completed'], description: v }), 'description'],
    ['token name', CreateApiTokenSchema, (v: string) => ({ name: v }), 'name'],
    ['Slack webhook URL', UpdateNotificationSettingsSchema, (v: string) => ({ slack: { webhook_url: `https://hooks.slack.com/services/${v}` } }), 'slack.webhook_url']
  ] as const

  it.each(cases)('%s refuses a NUL and names the field', (_what, schema, body, field) => {
    expect(schema.safeParse(body('a')).success).toBe(true)
    const issues = schema.safeParse(body('a\u0000b')).error?.issues ?? []
    expect(issues.map(i => i.path.join('.'))).toEqual([field])
  })
})
