import { describe, expect, it } from 'vitest'
import { isCrossSiteRequest } from '../../server/lib/security/csrf'
import { RateLimiter } from '../../server/lib/security/rate-limit'

describe('RateLimiter', () => {
  it('allows the limit per window per key, then answers how long to wait', () => {
    let now = 1_000_000
    const limiter = new RateLimiter(3, 60_000, () => now)
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfter('a')).toBe(0)
      limiter.hit('a')
    }
    expect(limiter.retryAfter('a')).toBe(60)
    expect(limiter.retryAfter('b')).toBe(0)
    now += 30_000
    expect(limiter.retryAfter('a')).toBe(30)
    now += 30_000
    expect(limiter.retryAfter('a')).toBe(0)
    limiter.hit('b')
    limiter.hit('b')
    limiter.hit('b')
    limiter.reset('b')
    expect(limiter.retryAfter('b')).toBe(0)
  })
})

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
