import { describe, expect, it } from 'vitest'
import { createLogger, logFn, logOptionsFromEnv, prettyLine } from '#server/lib/log'
import { redact } from '#server/lib/redact'
import { requestIdFrom, requestLogFields, requestLogLevel } from '#server/lib/requests'

function capture(format: 'json' | 'pretty', level: 'debug' | 'info' = 'info') {
  const lines: string[] = []
  return { lines, logger: createLogger({ format, level, write: line => lines.push(line) }) }
}

describe('logger', () => {
  it('json: one JSON object per line with level, time, msg and the child\'s fields', () => {
    const { lines, logger } = capture('json')
    logger.child({ request_id: 'req-1' }).info({ user_id: 'u-1', status: 200 }, 'request')
    logFn(logger.child({ component: 'worker' }))('job j-1 attempt 1 failed (multi\nline)', { job_id: 'j-1', user_id: 'u-1' })
    logger.error({ err: new Error('boom') }, 'failed')
    logger.debug('hidden at info')
    expect(lines).toHaveLength(3)
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true)
      expect(line.slice(0, -1)).not.toContain('\n')
    }
    const [request, worker, error] = lines.map(l => JSON.parse(l))
    expect(request).toMatchObject({ level: 'info', msg: 'request', request_id: 'req-1', user_id: 'u-1', status: 200, pid: process.pid })
    expect(new Date(request.time).toISOString()).toBe(request.time)
    expect(worker).toMatchObject({ level: 'warn', component: 'worker', job_id: 'j-1', user_id: 'u-1', msg: 'job j-1 attempt 1 failed (multi\nline)' })
    expect(worker).not.toHaveProperty('level', 'info')
    expect(error).toMatchObject({ level: 'error', msg: 'failed', err: { type: 'Error', message: 'boom' } })
    expect(error.err.stack).toContain('boom')
  })

  it('logFn honours a level named in the fields', () => {
    const { lines, logger } = capture('json')
    logFn(logger)('done', { level: 'info', job_id: 'j' })
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', msg: 'done', job_id: 'j' })
    expect(JSON.parse(lines[0]!)).not.toHaveProperty('fields')
  })

  it('pretty: one readable line with the fields', () => {
    const { lines, logger } = capture('pretty')
    logger.child({ request_id: 'req-1' }).warn({ job_id: 'j-1' }, 'slow')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}slow request_id=req-1 job_id=j-1\n$/)
    expect(prettyLine('not json')).toBe('not json')
  })

  it('LOG_FORMAT wins; otherwise json under NODE_ENV=production and pretty elsewhere', () => {
    expect(logOptionsFromEnv({ NODE_ENV: 'production' })).toEqual({ format: 'json', level: 'info' })
    expect(logOptionsFromEnv({ NODE_ENV: 'development' })).toEqual({ format: 'pretty', level: 'info' })
    expect(logOptionsFromEnv({ NODE_ENV: 'production', LOG_FORMAT: 'pretty', LOG_LEVEL: 'debug' })).toEqual({ format: 'pretty', level: 'debug' })
    expect(logOptionsFromEnv({ LOG_FORMAT: 'json' })).toEqual({ format: 'json', level: 'info' })
    expect(logOptionsFromEnv({ LOG_FORMAT: 'xml', LOG_LEVEL: 'loud' }, 'json')).toEqual({ format: 'json', level: 'info' })
  })

  it('redaction keeps JSON lines valid JSON', () => {
    const { lines, logger } = capture('json')
    const secrets = [
      'GET /exports/1/download?token=abc.def"quoted',
      'Authorization: Bearer otp_abcdefghijklmnop\\"x',
      'https://s3/x?X-Amz-Signature=abcdef\\ and cookie nuxt-session=Fe26.2**abc"',
      'https://api.telegram.org/bot123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef123/sendMessage'
    ]
    for (const s of secrets) logger.info({ url: s }, s)
    for (const line of lines) {
      const clean = redact(line)
      expect(clean).toContain('[REDACTED]')
      const parsed = JSON.parse(clean)
      expect(parsed.msg).toContain('[REDACTED]')
      expect(clean).not.toMatch(/abc\.def|otp_abcdefghijklmnop|Signature=abcdef|Fe26\.2|ABCDEFGHIJKLMNOP/)
    }
  })
})

describe('requests', () => {
  it('keeps a safe X-Request-Id and replaces anything else with a UUID', () => {
    expect(requestIdFrom('abc-123_DEF.4:5')).toBe('abc-123_DEF.4:5')
    expect(requestIdFrom(['first', 'second'])).toBe('first')
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
    for (const bad of [undefined, '', 'a'.repeat(129), 'has space', 'quote"d', 'new\nline', 'ünïcode', '{"json":1}']) {
      expect(requestIdFrom(bad)).toMatch(uuid)
    }
    expect(requestIdFrom('a'.repeat(128))).toBe('a'.repeat(128))
  })

  it('logs the path without its query, the route pattern, and probes at debug', () => {
    const base = { method: 'GET', status: 200, durationMs: 12.345, requestId: 'r' }
    expect(requestLogFields({ ...base, path: '/exports/1/download?token=secret', route: '/exports/:id/download', userId: 'u' }))
      .toEqual({ request_id: 'r', method: 'GET', path: '/exports/1/download', route: '/exports/:id/download', status: 200, duration_ms: 12.3, user_id: 'u' })
    expect(requestLogFields({ ...base, path: '/_nuxt/x.js' })).toMatchObject({ route: 'unmatched' })
    expect(requestLogLevel({ ...base, path: '/api/health/ready' })).toBe('debug')
    expect(requestLogLevel({ ...base, path: '/metrics?x=1' })).toBe('debug')
    expect(requestLogLevel({ ...base, path: '/metrics', status: 401 })).toBe('info')
    expect(requestLogLevel({ ...base, path: '/api/accounts' })).toBe('info')
  })
})
