import { describe, expect, it } from 'vitest'
import { isCrossSiteRequest } from '#server/lib/security/csrf'

describe('isCrossSiteRequest', () => {
  const allowed = ['https://outport.example']
  it.each([
    [{ secFetchSite: 'same-origin' }, false],
    [{ secFetchSite: 'none' }, false],
    [{ secFetchSite: 'cross-site', origin: 'https://outport.example' }, true],
    [{ secFetchSite: 'same-site' }, true],
    [{ origin: 'https://outport.example' }, false],
    [{ origin: 'http://127.0.0.1:3000', host: '127.0.0.1:3000' }, false],
    [{ origin: 'https://evil.example', host: '127.0.0.1:3000' }, true],
    [{ origin: 'null', host: '127.0.0.1:3000' }, true],
    // Neither header: not a browser page, so it cannot carry a victim's cookie.
    [{ host: '127.0.0.1:3000' }, false]
  ])('%o → cross-site %s', (headers, expected) => {
    expect(isCrossSiteRequest(headers, allowed)).toBe(expected)
  })
})
