import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { freePort } from '../helpers/server'

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
