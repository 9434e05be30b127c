import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'

/**
 * Where webhooks may go. A user-supplied URL must not become a way into our own network, so the
 * name is resolved and every address checked, both when the endpoint is created and again before
 * each send (a name can be re-pointed at 127.0.0.1 after it was accepted); the request then
 * connects to the checked address itself, so DNS cannot change between check and connect.
 */

const blocked = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this" network, unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local (cloud metadata)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4] // reserved, broadcast
] as const) blocked.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated): ::a.b.c.d reaches a.b.c.d on stacks that still honour it
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64 of any IPv4 address
  ['2002::', 16], // 6to4: 2002:AABB:CCDD:: is relayed to the IPv4 address AA.BB.CC.DD
  ['2001:db8::', 32] // documentation
] as const) blocked.addSubnet(net, prefix, 'ipv6')

/** True for private, loopback, link-local, unique-local, multicast and unspecified addresses (IPv4 and IPv6, IPv4-mapped included), and for IPv6 ranges that embed an IPv4 address (IPv4-compatible, NAT64, 6to4). */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 4) return blocked.check(address, 'ipv4')
  if (family === 6) {
    const lower = address.toLowerCase()
    // ::ffff:a.b.c.d and ::ffff:7f00:1 reach the IPv4 address: judge that one.
    const mapped = /^(?:0{0,4}:){0,4}:?(?:0{0,4}:)?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
    if (mapped) return blocked.check(mapped[1]!, 'ipv4')
    const hexMapped = /^(?:0{0,4}:){0,4}:?(?:0{0,4}:)?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower)
    if (hexMapped) {
      const hi = parseInt(hexMapped[1]!, 16)
      const lo = parseInt(hexMapped[2]!, 16)
      return blocked.check(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, 'ipv4')
    }
    return blocked.check(address, 'ipv6')
  }
  // Not an address at all: refuse rather than guess.
  return true
}

export class UnsafeUrlError extends Error {}

export interface UrlPolicy { allowHosts: readonly string[] }

function hostOf(url: URL): string {
  // URL keeps IPv6 literals in brackets.
  return url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
}

/** The URL's scheme and host, without DNS: https, or http only to an allowed host. */
export function checkUrlShape(raw: string, policy: UrlPolicy): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new UnsafeUrlError('is not a valid URL')
  }
  const host = hostOf(url)
  const allowed = policy.allowHosts.includes(host)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowed)) {
    throw new UnsafeUrlError('must use https')
  }
  if (url.username || url.password) throw new UnsafeUrlError('must not contain credentials')
  return url
}

export interface Vetted { url: URL, address: string, family: 4 | 6, /** Every address the name has, all checked. */ addresses: Array<{ address: string, family: 4 | 6 }> }

/**
 * Resolves the URL's host and checks every address it has (one bad address refuses the whole
 * name: the connection could go to any of them). Returns the address to connect to.
 */
export async function vetUrl(raw: string, policy: UrlPolicy, resolve: typeof lookup = lookup): Promise<Vetted> {
  const url = checkUrlShape(raw, policy)
  const host = hostOf(url)
  const allowed = policy.allowHosts.includes(host)
  let addresses: Array<{ address: string, family: number }>
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }]
  } else {
    try {
      addresses = await resolve(host, { all: true, verbatim: true })
    } catch {
      throw new UnsafeUrlError(`host ${host} does not resolve`)
    }
  }
  if (!addresses.length) throw new UnsafeUrlError(`host ${host} does not resolve`)
  if (!allowed) {
    const bad = addresses.find(a => isBlockedAddress(a.address))
    if (bad) throw new UnsafeUrlError(`resolves to a private or reserved address (${bad.address})`)
  }
  const all = addresses.map(a => ({ address: a.address, family: a.family === 6 ? 6 as const : 4 as const }))
  return { url, address: all[0]!.address, family: all[0]!.family, addresses: all }
}
