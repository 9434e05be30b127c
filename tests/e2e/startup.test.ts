import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { freePort, startServer } from '../helpers/server'

describe('the built server without configuration', () => {
  it('exits at start-up with a message naming each missing variable', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../.output/server/index.mjs')], {
      env: { PATH: process.env.PATH!, NODE_ENV: 'production', PORT: String(await freePort()), AWS_SECRET_ACCESS_KEY: 'do-not-print-me' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let output = ''
    child.stdout.on('data', (d: Buffer) => {
      output += d
    })
    child.stderr.on('data', (d: Buffer) => {
      output += d
    })
    const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
    expect(code).toBe(1)
    expect(output).toContain('DATABASE_URL')
    expect(output).toContain('S3_EXPORTS_BUCKET')
    expect(output).not.toContain('do-not-print-me')
  }, 30_000)
})

describe('the built server while PostgreSQL is unreachable', () => {
  it('answers 503 with Retry-After and a message, not an anonymous 500', async () => {
    const server = await startServer({
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:9/outport',
      WAREHOUSE_PATH: join(tmpdir(), 'outport-no-warehouse.duckdb'),
      S3_EXPORTS_BUCKET: 'outport-unreachable',
      S3_ENDPOINT: 'http://127.0.0.1:9',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      NUXT_SESSION_PASSWORD: 'test-session-password-that-is-long-enough-0123456789'
    }, { requireHealthy: false })
    try {
      const token = `otp_${'a'.repeat(43)}`
      for (const path of ['/api/analytics/datasets', '/api/analytics/exports/6f1c1d0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f']) {
        const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
        expect({ path, status: res.status, retryAfter: res.headers.get('retry-after') }).toEqual({ path, status: 503, retryAfter: '5' })
        expect((await res.json()).message).toBe('The database is unavailable right now. Please try again in a moment.')
      }
      // Failures that are not an outage keep their own status.
      expect((await fetch(`${server.url}/api/accounts`)).status).toBe(401)
      expect(server.output()).toMatch(/database unavailable: .*ECONNREFUSED|database unavailable: .*reach/i)
    } finally {
      await server.stop()
    }
  }, 30_000)
})
