import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '#server/lib/config'

const minimal = { DATABASE_URL: 'postgresql://u@h/db', S3_EXPORTS_BUCKET: 'my-bucket' }

describe('configuration', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig(minimal)).toMatchObject({
      AWS_REGION: 'eu-west-2',
      WAREHOUSE_PATH: '.data/warehouse.duckdb',
      EXPORT_URL_TTL_SECONDS: 3600,
      EXPORT_RETENTION_HOURS: 24,
      EXPORT_WORKER_CONCURRENCY: 2,
      EXPORT_MAX_ATTEMPTS: 3,
      OUTPORT_ROLE: 'all'
    })
  })

  it('notifications: email off without SMTP_URL, webhook defaults, the allow-list as a list of hosts', () => {
    expect(loadConfig(minimal).SMTP_URL).toBeUndefined()
    expect(loadConfig(minimal)).toMatchObject({
      WEBHOOK_RETRY_BASE_MS: 30_000,
      WEBHOOK_MAX_ATTEMPTS: 12,
      WEBHOOK_ALLOW_HOSTS: [],
      WEBHOOKS_MAX_PER_USER: 10
    })
    expect(loadConfig({ ...minimal, SMTP_URL: 'smtp://u:p@mail.example:587', WEBHOOK_ALLOW_HOSTS: ' 127.0.0.1, LocalHost ,' })).toMatchObject({
      SMTP_URL: 'smtp://u:p@mail.example:587',
      WEBHOOK_ALLOW_HOSTS: ['127.0.0.1', 'localhost']
    })
    expect(() => loadConfig({ ...minimal, SMTP_URL: 'mail.example:587' })).toThrow(/SMTP_URL/)
  })

  it('names every missing or invalid variable, and never echoes values', () => {
    let error: unknown
    try {
      loadConfig({ EXPORT_URL_TTL_SECONDS: 'soon', S3_ENDPOINT: 'not a url', AWS_SECRET_ACCESS_KEY: 'hunter2-secret', OUTPORT_ROLE: 'boss' })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    const message = (error as Error).message
    for (const name of ['DATABASE_URL', 'S3_EXPORTS_BUCKET', 'EXPORT_URL_TTL_SECONDS', 'S3_ENDPOINT', 'OUTPORT_ROLE']) expect(message).toContain(name)
    expect(message).not.toContain('hunter2-secret')
  })

  it('treats empty variables as unset and parses numbers and booleans', () => {
    const config = loadConfig({ ...minimal, S3_ENDPOINT: '', EXPORT_WORKER_CONCURRENCY: '4', S3_FORCE_PATH_STYLE: 'true' })
    expect(config.S3_ENDPOINT).toBeUndefined()
    expect(config.EXPORT_WORKER_CONCURRENCY).toBe(4)
    expect(config.S3_FORCE_PATH_STYLE).toBe(true)
  })
})
