/**
 * Load-time instants at the warehouse's precision (microseconds). A watermark is where one run's
 * rows end and the next run's begin, so it must survive every hop exactly: PostgreSQL keeps it as
 * microseconds since the epoch (BIGINT), jobs and the API as ISO 8601 UTC with six fractional
 * digits, and DuckDB compares it as a TIMESTAMPTZ literal. A JS Date (milliseconds) would round it.
 */

const ISO_INSTANT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?Z$/
// BigInt() rather than literals: the server bundle's esbuild target predates them.
const ZERO = BigInt(0)
const THOUSAND = BigInt(1000)
const ROUND_DOWN = BigInt(999)

/** "2026-12-06T14:05:00.123456Z" from microseconds since the epoch. */
export function usToIso(us: bigint): string {
  const ms = us >= ZERO ? us / THOUSAND : -((-us + ROUND_DOWN) / THOUSAND)
  const micros = us - ms * THOUSAND
  return new Date(Number(ms)).toISOString().replace('Z', `${micros.toString().padStart(3, '0')}Z`)
}

/** Microseconds since the epoch from an ISO 8601 UTC instant (digits past the sixth are dropped). */
export function isoToUs(iso: string): bigint {
  const match = ISO_INSTANT.exec(iso)
  const ms = match ? Date.parse(`${match[1]}Z`) : Number.NaN
  if (!match || Number.isNaN(ms)) throw new RangeError(`Not an ISO 8601 UTC instant: ${iso}`)
  const fraction = (match[2] ?? '').slice(0, 6).padEnd(6, '0')
  return BigInt(ms) * THOUSAND + BigInt(fraction)
}
