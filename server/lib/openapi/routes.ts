import { OPERATIONS } from './operations'

/** `/api`, `/api/` and everything under it, with or without a query. */
export function isApiPath(path: string): boolean {
  return /^\/api(?:[/?]|$)/.test(path)
}

/** Paths whose errors the document says are JSON: the API's, and the metrics scraper's. */
export function hasJsonErrors(path: string): boolean {
  return isApiPath(path) || /^\/metrics(?:\?|$)/.test(path)
}

interface DocumentedPath {
  pattern: RegExp
  /** Path parameters: the router prefers a literal segment over a parameter. */
  params: number
  methods: Map<string, { jsonBody: boolean }>
}

const PATHS: DocumentedPath[] = (() => {
  const byPath = new Map<string, DocumentedPath>()
  for (const [key, doc] of Object.entries(OPERATIONS)) {
    const [method, path] = key.split(' ') as [string, string]
    const segments = path.split('/').map(s => (/^\{.+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    const entry = byPath.get(path) ?? {
      pattern: new RegExp(`^${segments.join('/')}$`),
      params: (path.match(/\{/g) ?? []).length,
      methods: new Map()
    }
    entry.methods.set(method, { jsonBody: 'body' in doc && doc.body !== undefined })
    byPath.set(path, entry)
  }
  return [...byPath.values()]
})()

/**
 * The documented operations of a request path (without its query), as the router matches it: of
 * the documented paths it fits, the one with the fewest parameters (`/exports/preview` before
 * `/exports/{id}`). undefined: no documented path.
 */
export function documentedMethods(path: string): Map<string, { jsonBody: boolean }> | undefined {
  const candidates = PATHS.filter(p => p.pattern.test(path))
  candidates.sort((a, b) => a.params - b.params)
  return candidates[0]?.methods
}
