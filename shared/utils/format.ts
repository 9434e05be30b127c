/** Display formatting shared by the app's pages (and testable on its own). */

const BINARY_UNITS = ['B', 'KB', 'MB', 'GB', 'TB']

/** Binary units, as the PRD shows them: 56 KB = 56 × 1024 bytes. */
export function formatBytes(bytes: number, locale?: string): string {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024
    unit++
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2
  return `${value.toLocaleString(locale, { maximumFractionDigits: digits })} ${BINARY_UNITS[unit]}`
}

export function formatCount(n: number, locale?: string): string {
  return n.toLocaleString(locale)
}

/** 5 s, 1 min 05 s, 1 h 02 min */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`
}

export interface FilterNames { accounts: Map<string, string>, tags: Map<string, string> }

interface SummaryFilters { start_date: string | null, end_date: string | null, account_ids: string[], tag_ids: string[] }

function names(ids: string[], lookup: Map<string, string>, noun: string): string {
  if (ids.length > 2) return `${ids.length} ${noun}s`
  return ids.map(id => lookup.get(id) ?? `unknown ${noun}`).join(', ')
}

/** "2025-01-01 – 2025-06-30 · Current Account · Groceries, Rent" */
export function filtersSummary(filters: SummaryFilters, lookup?: FilterNames): string {
  const parts: string[] = []
  parts.push(filters.start_date || filters.end_date ? `${filters.start_date ?? 'earliest'} – ${filters.end_date ?? 'latest'}` : 'All dates')
  if (filters.account_ids.length) parts.push(names(filters.account_ids, lookup?.accounts ?? new Map(), 'account'))
  if (filters.tag_ids.length) parts.push(names(filters.tag_ids, lookup?.tags ?? new Map(), 'tag'))
  return parts.join(' · ')
}

/** An export's size as messages show it: "2.9 GB", or "12 parts, 2.9 GB" for one in parts. */
export function formatExportSize(bytes: number, parts: number | null | undefined, locale?: string): string {
  return parts ? `${formatCount(parts, locale)} part${parts === 1 ? '' : 's'}, ${formatBytes(bytes, locale)}` : formatBytes(bytes, locale)
}

const RELATIVE_UNITS: [Intl.RelativeTimeFormatUnit, number][] = [['year', 31_536_000_000], ['month', 2_592_000_000], ['week', 604_800_000], ['day', 86_400_000], ['hour', 3_600_000], ['minute', 60_000]]

/** "just now", "5 minutes ago", "yesterday", "3 weeks ago": the largest whole unit. */
export function formatRelative(iso: string, now = Date.now(), locale = 'en'): string {
  const ms = Date.parse(iso) - now
  const [unit, size] = RELATIVE_UNITS.find(([, size]) => Math.abs(ms) >= size) ?? []
  if (!unit) return 'just now'
  return new Intl.RelativeTimeFormat(locale, { numeric: 'auto' }).format(Math.trunc(ms / size!), unit)
}
