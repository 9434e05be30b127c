import type { z } from 'zod'
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponseObject } from 'zod-openapi'
import { ApiErrorSchema } from '#shared/types/api'
import type { TokenScope } from '#shared/types/tokens'
import { OPERATIONS as TABLE, TAGS, type Auth, type OperationDoc, type ResponseDoc } from './operations'

// Widened once, so code walking the table sees every entry's optional fields.
const OPERATIONS: Record<string, OperationDoc> = TABLE

/**
 * The OpenAPI 3.1 document of the HTTP API, built from the zod schemas the routes validate with
 * and answer with (shared/types/), and the route table in ./operations.ts. Served at
 * GET /api/openapi.json and rendered at /docs/api.
 */

/** The name nuxt-auth-utils gives the sealed session cookie (runtimeConfig.session.name in nuxt.config.ts). */
export const SESSION_COOKIE = 'nuxt-session'

const SECURITY_SCHEMES = {
  session: {
    type: 'apiKey', in: 'cookie', name: SESSION_COOKIE,
    description: 'The sealed session cookie POST /api/auth/login sets. State-changing requests carrying it must come from the app\'s own origin (Sec-Fetch-Site or Origin), else 403.'
  },
  bearer: {
    type: 'http', scheme: 'bearer',
    description: 'An API token (Settings → API tokens, or `npm run cli -- token:create --email …`): `Authorization: Bearer <token>`. Such requests need no origin check. A token does what its scopes allow: each operation names the scope it needs, and answers a token without it 403.'
  },
  telegramSecret: {
    type: 'apiKey', in: 'header', name: 'X-Telegram-Bot-Api-Secret-Token',
    description: 'TELEGRAM_WEBHOOK_SECRET, which Telegram sends back with every update.'
  },
  metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN.' },
  downloadToken: {
    type: 'apiKey', in: 'query', name: 'token',
    description: 'The signed token in the download link of a Telegram message (keyed by NUXT_SESSION_PASSWORD).'
  }
} as const

const SECURITY: Record<Auth, Array<Record<string, string[]>>> = {
  user: [{ session: [] }, { bearer: [] }],
  session: [{ session: [] }],
  public: [],
  telegramSecret: [{ telegramSecret: [] }],
  metricsToken: [{ metricsToken: [] }],
  downloadToken: [{ downloadToken: [] }]
}

/** Statuses every operation of a kind can answer, whatever the route does. */
const COMMON_ERRORS = {
  unauthenticated: 'No session cookie or API token, or one that is signed out, revoked or expired, or the user is disabled',
  invalid: 'Invalid input: `data.errors` names each field (`[{ field, message }]`); nothing was changed',
  crossSite: 'A state-changing request from another site (Origin, Sec-Fetch-Site) without an API token',
  apiToken: 'A valid API token: this route needs the session cookie (sign in to the app), so a token cannot manage tokens',
  scope: (scope: TokenScope) => `An API token without the \`${scope}\` scope (\`data.required_scope\` names it)`,
  tooLarge: 'Body over 128 KB',
  noLength: 'A body without a Content-Length (chunked): send a Content-Length',
  notJson: 'A body that is not `application/json`',
  database: 'PostgreSQL is unreachable (with Retry-After: 5); retry later'
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** `GET /api/analytics/exports/{id}` → ['get', '/api/analytics/exports/{id}']. */
export function splitKey(key: string): [method: string, path: string] {
  const [method, path] = key.split(' ') as [string, string]
  return [method.toLowerCase(), path]
}

/** getApiAnalyticsExportsId: stable, derived from method and path so a new route needs none. */
export function operationId(key: string): string {
  const [method, path] = splitKey(key)
  const words = path.split(/[^A-Za-z0-9]+/).filter(Boolean)
  return method + words.map(w => w[0]!.toUpperCase() + w.slice(1)).join('')
}

function errorResponse(description: string, contentType = 'application/json') {
  if (contentType !== 'application/json') return { description, content: { [contentType]: { schema: { type: 'string' as const } } } }
  return { description, content: { 'application/json': { schema: ApiErrorSchema } } }
}

function response(doc: ResponseDoc) {
  const contentType = doc.contentType ?? 'application/json'
  return {
    description: doc.description,
    ...(doc.headers && { headers: doc.headers }),
    ...(doc.schema && {
      content: {
        [contentType]: { schema: doc.schema, ...(doc.example !== undefined && { example: doc.example }) }
      }
    })
  }
}

function operation(key: string, doc: OperationDoc): ZodOpenApiOperationObject {
  const [method] = splitKey(key)
  const responses: Record<string, ZodOpenApiResponseObject> = {}
  for (const [status, r] of Object.entries(doc.responses)) responses[status] = response(r)
  const errors: Record<string, string> = {}
  const signedIn = doc.auth === 'user' || doc.auth === 'session'
  const writes = WRITE_METHODS.has(method.toUpperCase())
  // The webhook and the signed link validate nothing with zod: they never answer 400.
  if ((doc.body || doc.query) && (signedIn || doc.auth === 'public')) errors[400] = COMMON_ERRORS.invalid
  if (signedIn) errors[401] = COMMON_ERRORS.unauthenticated
  const forbidden = [
    ...(doc.auth === 'session' ? [COMMON_ERRORS.apiToken] : []),
    ...(doc.scope ? [COMMON_ERRORS.scope(doc.scope)] : []),
    ...(writes ? [COMMON_ERRORS.crossSite] : [])
  ]
  if (forbidden.length) errors[403] = forbidden.map((d, i) => (i ? d[0]!.toLowerCase() + d.slice(1) : d)).join('; or ')
  if (writes) Object.assign(errors, { 411: COMMON_ERRORS.noLength, 413: COMMON_ERRORS.tooLarge })
  if (doc.body) errors[415] = COMMON_ERRORS.notJson
  if (signedIn) errors[503] = COMMON_ERRORS.database
  Object.assign(errors, doc.errors)
  for (const [status, description] of Object.entries(errors)) {
    responses[status] ??= errorResponse(description, doc.errorContentType)
  }
  const description = [doc.description, doc.scope && `An API token needs the \`${doc.scope}\` scope.`].filter(Boolean).join('\n\n')
  return {
    operationId: operationId(key),
    summary: doc.summary,
    ...(description && { description }),
    tags: [doc.tag],
    security: SECURITY[doc.auth],
    ...(doc.deprecated && { deprecated: true }),
    ...((doc.params || doc.query || doc.headers) && {
      requestParams: {
        ...(doc.params && { path: doc.params }),
        ...(doc.query && { query: doc.query }),
        ...(doc.headers && { header: doc.headers })
      }
    }),
    ...(doc.body && {
      requestBody: {
        required: true,
        content: {
          'application/json': { schema: doc.body.schema, ...(doc.body.example !== undefined && { example: doc.body.example }) }
        }
      }
    }),
    responses
  }
}

export function buildOpenApiDocument() {
  const paths: ZodOpenApiPathsObject = {}
  for (const [key, doc] of Object.entries(OPERATIONS)) {
    const [method, path] = splitKey(key)
    paths[path] = { ...paths[path], [method]: operation(key, doc) }
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Outport API',
      version: '1.0.0',
      description: [
        'Outport exports analytics datasets (CSV, Parquet, JSON Lines, JSON, Excel) to S3-compatible storage.',
        'JSON in and out, snake_case. Every route but the health routes, sign-in, this document, the Telegram webhook and the signed download link needs a session cookie or `Authorization: Bearer <token>`; managing API tokens (/api/tokens) needs the session cookie, and answers an API token 403. An API token does what its scopes allow (`exports:read`, `exports:write`, `schedules:write`, `webhooks:write`, `destinations:write`): an operation outside them answers 403 naming the scope it needs.',
        'Every error answers the `Error` shape, as JSON whatever the Accept header; invalid input is a 400 with `data.errors: [{ field, message }]`. Unknown ids and other users\' ids are 404. A path below called with a method it does not list answers 405 with `Allow`; a path not below, 404.'
      ].join('\n\n')
    },
    servers: [{ url: '/', description: 'This server' }],
    tags: [...TAGS],
    paths,
    components: {
      securitySchemes: SECURITY_SCHEMES
    }
  })
}

export type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>

/** For tests: every zod schema a documented example must satisfy, with the example. */
export function documentedExamples(): Array<{ where: string, schema: z.ZodType, example: unknown }> {
  const out: Array<{ where: string, schema: z.ZodType, example: unknown }> = []
  for (const [key, doc] of Object.entries(OPERATIONS)) {
    if (doc.body?.example !== undefined) out.push({ where: `${key} request body`, schema: doc.body.schema, example: doc.body.example })
    for (const [status, r] of Object.entries(doc.responses)) {
      if (r.example !== undefined && r.schema) out.push({ where: `${key} ${status}`, schema: r.schema, example: r.example })
    }
  }
  return out
}
