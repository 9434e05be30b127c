import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '#server/lib/config'

const minimal = { DATABASE_URL: 'postgresql://u@h/db', S3_EXPORTS_BUCKET: 'my-bucket' }
const telegram = { ...minimal, TELEGRAM_BOT_TOKEN: '123:abc', NUXT_SESSION_PASSWORD: 'x'.repeat(32) }

function problems(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  return ''
}

describe('Telegram configuration', () => {
  it('is off by default, in webhook mode', () => {
    expect(loadConfig(minimal)).toMatchObject({ TELEGRAM_MODE: 'webhook' })
    expect(loadConfig(minimal).TELEGRAM_BOT_TOKEN).toBeUndefined()
  })

  it('webhook mode needs a webhook secret Telegram accepts; polling does not', () => {
    expect(problems(telegram)).toMatch(/TELEGRAM_WEBHOOK_SECRET: is required/)
    expect(problems({ ...telegram, TELEGRAM_WEBHOOK_SECRET: 'short' })).toMatch(/TELEGRAM_WEBHOOK_SECRET: must be 16-256/)
    expect(problems({ ...telegram, TELEGRAM_WEBHOOK_SECRET: 'has spaces in it, sixteen+' })).toMatch(/TELEGRAM_WEBHOOK_SECRET/)
    expect(loadConfig({ ...telegram, TELEGRAM_WEBHOOK_SECRET: 'a_valid-secret_0123' }).TELEGRAM_WEBHOOK_SECRET).toBe('a_valid-secret_0123')
    expect(loadConfig({ ...telegram, TELEGRAM_MODE: 'polling' }).TELEGRAM_MODE).toBe('polling')
    expect(problems({ ...telegram, TELEGRAM_MODE: 'carrier-pigeon' })).toMatch(/TELEGRAM_MODE/)
  })

  it('a bot token needs NUXT_SESSION_PASSWORD, which keys the download links', () => {
    const { NUXT_SESSION_PASSWORD: _, ...withoutPassword } = telegram
    expect(problems({ ...withoutPassword, TELEGRAM_MODE: 'polling' })).toMatch(/NUXT_SESSION_PASSWORD: is required with TELEGRAM_BOT_TOKEN/)
  })
})
