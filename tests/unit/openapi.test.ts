import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { validate, compileErrors } from '@readme/openapi-parser'
import Ajv2020 from 'ajv/dist/2020'
import addFormats from 'ajv-formats'
import { describe, expect, it } from 'vitest'
import { buildOpenApiDocument, documentedExamples, SESSION_COOKIE, splitKey } from '#server/lib/openapi/document'
import { ERROR_EXAMPLES, OPERATIONS, type OperationDoc } from '#server/lib/openapi/operations'
import { documentedMethods, hasJsonErrors, isApiPath } from '#server/lib/openapi/routes'
import * as examples from '#server/lib/openapi/examples'
import { ListExportsQuerySchema } from '#shared/types/exports'

const ROOT = join(import.meta.dirname, '../..')
const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete'])

/**
 * 'METHOD /path' for every route file, as Nitro maps them: `[id]` → `{id}`, `index` → its folder,
 * the suffix before `.ts` is the method. Catch-alls (`[...path].ts`) serve no documented route.
 */
function routeEntries(dir: string, prefix: string): Array<{ route: string, file: string }> {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter(entry => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.startsWith('[...'))
    .map((entry) => {
      const file = relative(join(ROOT, dir), join(entry.parentPath, entry.name)).split(sep).join('/')
      const parts = file.replace(/\.ts$/, '').split('.')
      const method = parts.at(-1)!
      if (!METHODS.has(method)) throw new Error(`${dir}/${file}: name the file by its method (.get.ts, .post.ts, …) so it can be documented`)
      const path = parts.slice(0, -1).join('.').replace(/(^|\/)index$/, '').replace(/\[(\w+)\]/g, '{$1}')
      return { route: `${method.toUpperCase()} ${`${prefix}/${path}`.replace(/\/$/, '')}`, file: join(dir, file) }
    })
}

function routeFiles(dir: string, prefix: string): string[] {
  return routeEntries(dir, prefix).map(entry => entry.route)
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

  it('names, for every route a token may call, the scope the route asks requireUser() for, and its 403', () => {
    const table: Record<string, OperationDoc> = OPERATIONS
    for (const { route, file } of routeEntries('server/api', '/api')) {
      const doc = table[route]!
      if (doc.auth !== 'user') continue
      const source = readFileSync(join(ROOT, file), 'utf8')
      const asked = [...source.matchAll(/requireUser\(event(?:, \{ scope: '([^']+)' \})?\)/g)].map(m => m[1] ?? null)
      expect(asked, `${file} calls requireUser() once`).toHaveLength(1)
      expect(doc.scope, `${route}: say which scope a token needs (null: any valid token)`).not.toBeUndefined()
      expect(asked[0], `${route}: the route and its documentation agree on the scope`).toBe(doc.scope)
      if (!doc.scope) continue
      const [method, path] = splitKey(route)
      const operation = (document.paths?.[path] as Record<string, { responses?: Record<string, unknown>, description?: string }>)[method]!
      expect(JSON.stringify(operation.responses?.['403']), route).toContain(`\`${doc.scope}\` scope`)
      expect(operation.description, route).toContain(`\`${doc.scope}\``)
    }
    // Reads need exports:read; opening a channel for data to leave needs webhooks:write.
    expect(table['GET /api/analytics/exports/{id}']!.scope).toBe('exports:read')
    for (const route of ['POST /api/webhooks', 'POST /api/telegram/link', 'PATCH /api/notifications/settings']) expect(table[route]!.scope).toBe('webhooks:write')
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
    expect(query.map(p => 'name' in p && p.name)).toEqual(['limit', 'cursor', 'schedule_id', 'status', 'source', 'dataset_id', 'created_after', 'created_before'])
  })

  it.each([...documentedExamples(), ...ERROR_EXAMPLES].map(e => [e.where, e] as const))('example %s satisfies its schema', (_where, { schema, example }) => {
    const result = schema.safeParse(example)
    expect(result.error?.issues ?? []).toEqual([])
  })
})

describe('the documented methods of a request path', () => {
  it('are the methods of the documented path it fits, literal segments first', () => {
    expect([...documentedMethods('/api/analytics/exports')!.keys()].sort()).toEqual(['GET', 'POST'])
    expect([...documentedMethods('/api/analytics/exports/preview')!.keys()]).toEqual(['POST'])
    expect([...documentedMethods(`/api/analytics/exports/${examples.JOB_ID}`)!.keys()].sort()).toEqual(['DELETE', 'GET'])
    expect(documentedMethods('/api/analytics/nope')).toBeUndefined()
    expect(documentedMethods('/api/analytics/exports/a/b/c')).toBeUndefined()
  })

  it('say which operations take a JSON body', () => {
    expect(documentedMethods('/api/tokens')!.get('POST')).toEqual({ jsonBody: true })
    expect(documentedMethods('/api/auth/logout')!.get('POST')).toEqual({ jsonBody: false })
  })

  it('JSON errors: the API and /metrics, not the pages nor the signed link', () => {
    expect(['/api/x', '/metrics', '/metrics?x', '/exports/1/download', '/login'].map(hasJsonErrors)).toEqual([true, true, true, false, false])
  })

  it.each([['/api', true], ['/api/', true], ['/api?x=1', true], ['/api/health', true], ['/apis', false], ['/login', false], ['/metrics', false]])('%s is an API path: %s', (path, api) => {
    expect(isApiPath(path)).toBe(api)
  })
})

describe('the document\'s examples, by a JSON Schema 2020-12 validator', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats(ajv)
  ajv.addSchema(JSON.parse(JSON.stringify(document)), 'openapi.json')
  const pointer = (...tokens: string[]) => `openapi.json#/${tokens.map(t => encodeURIComponent(t.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/')}`
  type Media = Record<string, { example?: unknown }>
  const cases = Object.entries(document.paths ?? {}).flatMap(([path, item]) => Object.entries(item ?? {}).flatMap(([method, op]) => {
    const { requestBody, responses } = op as { requestBody?: { content: Media }, responses: Record<string, { content?: Media }> }
    const media = (content: Media | undefined, ...at: string[]) => Object.entries(content ?? {})
      .filter(([, m]) => m.example !== undefined)
      .map(([type, m]) => [`${method.toUpperCase()} ${path} ${at.at(-1) ?? 'body'}`, pointer('paths', path, method, ...at, 'content', type, 'schema'), m.example] as const)
    return [...media(requestBody?.content, 'requestBody'), ...Object.entries(responses).flatMap(([status, r]) => media(r.content, 'responses', status))]
  }))

  it('finds them', () => {
    expect(cases.length).toBeGreaterThan(40)
  })

  it.each([...cases, ...ERROR_EXAMPLES.map(e => [e.where, 'openapi.json#/components/schemas/Error', e.example] as const)])('%s', (_where, ref, example) => {
    const validate = ajv.getSchema(ref)!
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true)
  })
})
