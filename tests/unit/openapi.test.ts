import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { validate, compileErrors } from '@readme/openapi-parser'
import { describe, expect, it } from 'vitest'
import { buildOpenApiDocument, documentedExamples, SESSION_COOKIE } from '#server/lib/openapi/document'
import { ERROR_EXAMPLES } from '#server/lib/openapi/operations'
import { ListExportsQuerySchema } from '#shared/types/exports'

const ROOT = join(import.meta.dirname, '../..')
const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete'])

/**
 * 'METHOD /path' for every route file, as Nitro maps them: `[id]` → `{id}`, `index` → its folder,
 * the suffix before `.ts` is the method. Catch-alls (`[...path].ts`) serve no documented route.
 */
function routeFiles(dir: string, prefix: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter(entry => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.startsWith('[...'))
    .map((entry) => {
      const file = relative(join(ROOT, dir), join(entry.parentPath, entry.name)).split(sep).join('/')
      const parts = file.replace(/\.ts$/, '').split('.')
      const method = parts.at(-1)!
      if (!METHODS.has(method)) throw new Error(`${dir}/${file}: name the file by its method (.get.ts, .post.ts, …) so it can be documented`)
      const path = parts.slice(0, -1).join('.').replace(/(^|\/)index$/, '').replace(/\[(\w+)\]/g, '{$1}')
      return `${method.toUpperCase()} ${`${prefix}/${path}`.replace(/\/$/, '')}`
    })
}

const document = buildOpenApiDocument()
const documented = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
  Object.keys(item ?? {}).filter(key => METHODS.has(key)).map(method => `${method.toUpperCase()} ${path}`))

describe('the OpenAPI document', () => {
  const files = [...routeFiles('server/api', '/api'), ...routeFiles('server/routes', '')]

  it('finds the route files', () => {
    expect(files).toContain('GET /api/analytics/exports/{id}')
    expect(files).toContain('GET /api/analytics/exports')
    expect(files).toContain('GET /exports/{id}/download')
    expect(files.length).toBeGreaterThan(20)
  })

  it('documents every route under server/api/ and server/routes/ (add it to server/lib/openapi/operations.ts)', () => {
    expect(files.filter(route => !documented.includes(route)).sort()).toEqual([])
  })

  it('documents no route that has no file', () => {
    expect(documented.filter(route => !files.includes(route)).sort()).toEqual([])
  })

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toMatch(/^3\.1\./)
    // The JSON as served (and a copy: the validator dereferences in place).
    const result = await validate(JSON.parse(JSON.stringify(document)))
    if (!result.valid) throw new Error(compileErrors(result))
    expect(result.valid).toBe(true)
  })

  it('says who may call each operation', () => {
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      for (const [method, operation] of Object.entries(item ?? {})) {
        if (!METHODS.has(method)) continue
        expect(operation, `${method} ${path}`).toHaveProperty('security')
        expect(operation, `${method} ${path}`).toHaveProperty('operationId')
      }
    }
    expect(document.paths?.['/api/analytics/exports']?.post?.security).toEqual([{ session: [] }, { bearer: [] }])
    expect(document.paths?.['/api/health/live']?.get?.security).toEqual([])
    // Token management takes the session cookie only (requireSessionUser): an API token gets 403.
    for (const route of [document.paths?.['/api/tokens']?.get, document.paths?.['/api/tokens']?.post, document.paths?.['/api/tokens/{id}']?.delete]) {
      expect(route?.security).toEqual([{ session: [] }])
      expect(JSON.stringify(route?.responses?.['403'])).toContain('API token')
    }
  })

  it('names the session cookie the app sets', () => {
    expect(readFileSync(join(ROOT, 'nuxt.config.ts'), 'utf8')).toContain(`name: '${SESSION_COOKIE}'`)
  })

  it('describes errors with the one Error schema', () => {
    const responses = document.paths?.['/api/analytics/exports/{id}']?.get?.responses ?? {}
    for (const status of ['401', '404', '503']) {
      expect(JSON.stringify(responses[status])).toContain('#/components/schemas/Error')
    }
    expect(JSON.stringify(document.paths?.['/api/analytics/exports']?.post?.responses?.['400'])).toContain('#/components/schemas/Error')
  })

  it('takes request bodies and queries from the schemas the routes validate with', () => {
    const body = JSON.stringify(document.paths?.['/api/analytics/exports']?.post?.requestBody)
    for (const field of ['dataset_id', 'format', 'compression', 'parquet_compression', 'columns', 'limit', 'csv']) expect(body).toContain(`"${field}"`)
    const query = document.paths?.['/api/analytics/exports']?.get?.parameters ?? []
    expect(query.map(p => 'name' in p && p.name)).toEqual(Object.keys(ListExportsQuerySchema.shape))
    expect(query.map(p => 'name' in p && p.name)).toEqual(['limit', 'cursor', 'schedule_id', 'status', 'dataset_id', 'created_after', 'created_before'])
  })

  it.each([...documentedExamples(), ...ERROR_EXAMPLES].map(e => [e.where, e] as const))('example %s satisfies its schema', (_where, { schema, example }) => {
    const result = schema.safeParse(example)
    expect(result.error?.issues ?? []).toEqual([])
  })
})
