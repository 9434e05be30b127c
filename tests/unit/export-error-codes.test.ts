import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildOpenApiDocument } from '#server/lib/openapi/document'
import { EXPORT_ERROR_CODES } from '#shared/types/errors'

const ROOT = join(import.meta.dirname, '../..')
const CATALOGUE = Object.keys(EXPORT_ERROR_CODES).sort()

/** Every code spelled where a job's error is made: `new ExportFailure('CODE', …)` and `{ code: 'CODE', … }` (not a type's `code: 'A' | 'B'`). */
function codesInServer(): Map<string, string[]> {
  const found = new Map<string, string[]>()
  const files = readdirSync(join(ROOT, 'server'), { withFileTypes: true, recursive: true })
    .filter(entry => entry.isFile() && entry.name.endsWith('.ts'))
    .map(entry => relative(ROOT, join(entry.parentPath, entry.name)))
    .filter(path => !path.startsWith('server/generated/'))
  for (const path of files) {
    const text = readFileSync(join(ROOT, path), 'utf8')
    for (const match of text.matchAll(/\bnew ExportFailure\(\s*'([A-Z_]+)'|\bcode: '([A-Z][A-Z_]+)'(?!\s*\|)/g)) {
      const code = match[1] ?? match[2]!
      found.set(code, [...found.get(code) ?? [], path])
    }
  }
  return found
}

describe('the export error codes', () => {
  const produced = codesInServer()

  it('finds the codes the worker and the scheduler write', () => {
    expect([...produced.keys()]).toEqual(expect.arrayContaining(['STORAGE_UNAVAILABLE', 'INTERNAL_ERROR', 'TOO_MANY_ROWS', 'WORKER_LOST', 'FILTERS_GONE']))
  })

  it('are all in the catalogue, and the catalogue has none the server never writes', () => {
    expect([...produced.keys()].filter(code => !CATALOGUE.includes(code))).toEqual([])
    expect(CATALOGUE.filter(code => !produced.has(code))).toEqual([])
  })

  it('are listed, each with its meaning, in the OpenAPI document', () => {
    const document = buildOpenApiDocument()
    const schema = document.components?.schemas?.ExportErrorCode as { 'enum'?: string[], 'description'?: string, 'x-enumDescriptions'?: Record<string, string> }
    expect([...schema.enum ?? []].sort()).toEqual(CATALOGUE)
    expect(schema['x-enumDescriptions']).toEqual(EXPORT_ERROR_CODES)
    for (const [code, meaning] of Object.entries(EXPORT_ERROR_CODES)) expect(schema.description).toContain(`\`${code}\`: ${meaning}`)
    expect(JSON.stringify(document.components?.schemas?.ExportJob)).toContain('"code":{"$ref":"#/components/schemas/ExportErrorCode"}')
  })
})
