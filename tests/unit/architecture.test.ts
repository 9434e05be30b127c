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

  it('imports our own modules without the .ts extension, everywhere', () => {
    const withExtension = [...APP_CODE, ...sources('tests'), ...sources('bench')]
      .filter(path => /from '\.{1,2}\/[^']*\.ts'/.test(readFileSync(join(ROOT, path), 'utf8')))
    expect(withExtension).toEqual([])
  })
})
