import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '../..')

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter(entry => entry.isFile() && /\.(ts|vue)$/.test(entry.name))
    .map(entry => relative(ROOT, join(entry.parentPath, entry.name)))
    .filter(path => !path.startsWith('server/generated/'))
}

const APP_CODE = [...sources('server'), ...sources('app'), ...sources('shared')]
const JOBS_OWNER = 'server/lib/exports/jobs/'

/** The rules ARCHITECTURE.md states, held for every file so a new one cannot quietly break them. */
describe('one owner per concept', () => {
  it('only server/lib/exports/jobs/ reads or writes the jobs table', () => {
    const offenders = APP_CODE.filter(path => !path.startsWith(JOBS_OWNER)).filter((path) => {
      const text = readFileSync(join(ROOT, path), 'utf8')
      return /\b(db|tx|this\.db|ctx\.db)\.job\./.test(text) || /\b(FROM|UPDATE|INTO|JOIN)\s+jobs\b/i.test(text)
    })
    expect(offenders).toEqual([])
  })

  it('turns job JSON into typed metadata in one place', () => {
    const casts = APP_CODE.filter(path => /as unknown as Export(Metadata|Progress|Error)\b/.test(readFileSync(join(ROOT, path), 'utf8')))
    expect(casts).toEqual([`${JOBS_OWNER}record.ts`])
  })

  it('spells statuses and formats only in their tables', () => {
    const offenders = APP_CODE.filter((path) => {
      const text = readFileSync(join(ROOT, path), 'utf8')
      return /status === 'pending' \|\| [\w.?]*status === 'running'/.test(text) || /format === 'csv' \? 'CSV'/.test(text)
    })
    expect(offenders).toEqual([])
  })

  it('reaches the engine and shared code by alias (#server/, #shared/), not by ../../ chains', () => {
    const chains = [...APP_CODE, ...sources('tests'), ...sources('bench')]
      .filter(path => /from '(\.\.\/){2,}(\.\.\/)*(server|shared|lib|generated|db|types|utils)\//.test(readFileSync(join(ROOT, path), 'utf8')))
    expect(chains).toEqual([])
  })

  it('imports our own modules without the .ts extension, everywhere', () => {
    const withExtension = [...APP_CODE, ...sources('tests'), ...sources('bench')]
      .filter(path => /from '\.{1,2}\/[^']*\.ts'/.test(readFileSync(join(ROOT, path), 'utf8')))
    expect(withExtension).toEqual([])
  })
})

describe('one notification pipeline', () => {
  const CHANNELS_DIR = 'server/lib/notifications/channels/'
  const text = (path: string) => readFileSync(join(ROOT, path), 'utf8')

  it('only a channel sends: a Telegram message, an email, a webhook event, a Slack post', () => {
    const senders = APP_CODE.filter(path => /callApi\('sendMessage'|\.sendMail\(|\benqueueEvent\(|\battemptDelivery\(/.test(text(path)))
    // The webhook delivery loop (queue.ts) sends what the webhook channel queued, through deliver.ts.
    expect(senders.sort()).toEqual([
      ...['email', 'slack', 'telegram', 'webhook'].map(c => `${CHANNELS_DIR}${c}.ts`),
      'server/lib/notifications/webhooks/deliver.ts',
      'server/lib/notifications/webhooks/queue.ts'
    ])
  })

  it('channels are made by their registry row alone, and every row of CHANNELS has its file', () => {
    const makers = APP_CODE.filter(path => /new \w+Channel\(/.test(text(path)))
    expect(makers.every(path => path.startsWith(CHANNELS_DIR))).toBe(true)
    const files = readdirSync(join(ROOT, CHANNELS_DIR)).filter(f => f !== 'index.ts').map(f => f.replace(/\.ts$/, '')).sort()
    const ids = [...text('shared/types/notifications.ts').matchAll(/\{ id: '(\w+)', key:/g)].map(m => m[1]).sort()
    expect(files).toEqual(ids)
    const registry = text(`${CHANNELS_DIR}index.ts`)
    for (const id of ids) expect(registry).toContain(`${id}: ${id}Channel`)
  })

  it('spells channel names once: no literal list of them outside shared/types/notifications.ts', () => {
    const lists = APP_CODE.filter(path => path !== 'shared/types/notifications.ts')
      .filter(path => /\[\s*\[?'telegram',[^\]]*'email'/.test(text(path)) || /\{ key: 'webhooks', label/.test(text(path)))
    expect(lists).toEqual([])
  })

  it('no cycle between the Telegram bot and the notifications', () => {
    const telegram = APP_CODE.filter(path => path.startsWith('server/lib/telegram/'))
    expect(telegram.filter(path => /from '\.\.\/notifications\//.test(text(path)))).toEqual([])
  })
})

describe('start-up memory', () => {
  const text = (path: string) => readFileSync(join(ROOT, path), 'utf8')
  // Together about 30 MB of an idle server's resident memory (BENCHMARKS.md); most users never need them.
  const LAZY = ['exceljs', '@azure/storage-blob', 'ssh2-sftp-client', '@aws-sdk/client-sts']

  it('loads the SDKs only some exports need when an export first needs them, never at start-up', () => {
    const importers = APP_CODE.filter(path => LAZY.some(pkg => new RegExp(`^import (?!type )[^\\n]*from '${pkg}'`, 'm').test(text(path))))
    // Those three modules are reached only through import() in the drivers' registry.
    expect(importers.sort()).toEqual(['azure-blob', 's3', 'sftp'].map(d => `server/lib/destinations/drivers/${d}.ts`))
    const staticDriverImports = APP_CODE.filter(path => /^import (?!type )[^\n]*from '[^']*drivers\/(s3|sftp|azure-blob)'|^import (?!type )[^\n]*from '\.\/(s3|sftp|azure-blob)'/m.test(text(path)))
      .filter(path => !path.startsWith('server/lib/storage/'))
    expect(staticDriverImports).toEqual([])
    expect(text('server/lib/exports/xlsx.ts')).toContain('await import(\'exceljs\')')
  })
})
