import { describe, expect, it } from 'vitest'
import { safeRedirect } from '../../../app/utils/redirect'

const ORIGIN = 'https://outport.example'
const FALLBACK = '/analytics/datasets'
/** Where a browser would go: the URL standard's resolution against our origin. */
const resolved = (target: string) => new URL(target, ORIGIN)

describe('safeRedirect', () => {
  it.each([
    '/analytics/exports?x=1',
    '/analytics/datasets',
    '/',
    '/analytics/exports?status=failed#latest',
    // Another URL inside the query string is only a value.
    '/analytics/exports?redirect=//evil.com',
    // Encoded slashes and backslashes stay one path segment on our origin.
    '/%2F%2Fevil.com',
    '/%5Cevil.com'
  ])('keeps the same-site path %j', (target) => {
    expect(safeRedirect(target)).toBe(target)
    expect(resolved(target).origin).toBe(ORIGIN)
  })

  it.each([
    ['protocol-relative', '//evil.com'],
    ['protocol-relative with a path', '//evil.com/analytics/exports'],
    ['three slashes', '///evil.com'],
    ['slash backslash', '/\\evil.com'],
    ['slash backslash slash', '/\\/evil.com'],
    ['absolute https', 'https://evil.com'],
    ['absolute http', 'http://evil.com/analytics/datasets'],
    ['javascript:', 'javascript:alert(document.cookie)'],
    ['javascript: in mixed case', 'JaVaScRiPt:alert(1)'],
    ['data:', 'data:text/html,<script>alert(1)</script>'],
    ['a bare host', 'evil.com'],
    ['a relative path', 'analytics/exports'],
    ['a leading space', ' //evil.com'],
    ['encoded protocol-relative', '%2F%2Fevil.com'],
    ['encoded absolute', 'https%3A%2F%2Fevil.com'],
    // The URL standard drops tabs and newlines anywhere, so these are //evil.com to a browser.
    ['slash tab slash', '/\t/evil.com'],
    ['slash newline slash', '/\n/evil.com'],
    ['slash CR LF backslash', '/\r\n\\evil.com'],
    ['empty', '']
  ])('falls back for %s (%j)', (_name, target) => {
    expect(safeRedirect(target)).toBe(FALLBACK)
  })

  it('never resolves to another origin', () => {
    for (const target of ['//evil.com', '/\\evil.com', '/\t/evil.com', '/\n\\evil.com', 'https://evil.com', '/analytics/exports?x=1']) {
      expect(resolved(safeRedirect(target)).origin).toBe(ORIGIN)
    }
  })

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['a repeated query parameter', ['/analytics/exports', '/analytics/datasets']]
  ])('falls back for %s', (_name, target) => {
    expect(safeRedirect(target)).toBe(FALLBACK)
  })

  it('uses the given fallback', () => {
    expect(safeRedirect('//evil.com', '/login')).toBe('/login')
    expect(safeRedirect('/analytics/exports', '/login')).toBe('/analytics/exports')
  })
})
