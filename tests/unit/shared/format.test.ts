import { describe, expect, it } from 'vitest'
import { filtersSummary, formatBytes, formatCount, formatDuration, formatExportSize, formatRelative, type FilterNames } from '#shared/utils/format'

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1,023 B'],
    [1024, '1 KB'],
    [1536, '1.5 KB'],
    [1264, '1.23 KB'], // below 10: two decimals
    [10_496, '10.3 KB'], // 10 to 100: one decimal
    [56 * 1024, '56 KB'], // the PRD's binary units: 56 KB = 56 × 1024 bytes
    [123.4 * 1024, '123 KB'], // 100 and more: whole numbers
    [1024 ** 2, '1 MB'],
    [1.5 * 1024 ** 3, '1.5 GB'],
    [1024 ** 4, '1 TB'],
    [1024 ** 5, '1,024 TB'] // no unit above TB
  ])('%d bytes is %s', (bytes, text) => {
    expect(formatBytes(bytes, 'en-US')).toBe(text)
  })

  it('uses the locale\'s separators', () => {
    expect(formatBytes(1536, 'de-DE')).toBe('1,5 KB')
    expect(formatBytes(1023, 'de-DE')).toBe('1.023 B')
  })
})

describe('formatCount', () => {
  it('groups thousands by locale', () => {
    expect(formatCount(0, 'en-US')).toBe('0')
    expect(formatCount(1_234_567, 'en-US')).toBe('1,234,567')
    expect(formatCount(1_234_567, 'de-DE')).toBe('1.234.567')
  })
})

describe('formatDuration', () => {
  it.each([
    [0, '0 s'],
    [999, '0 s'],
    [-5000, '0 s'],
    [59_999, '59 s'],
    [60_000, '1 min 00 s'],
    [65_000, '1 min 05 s'],
    [3_599_999, '59 min 59 s'],
    [3_600_000, '1 h 00 min'],
    [3_720_000, '1 h 02 min'],
    [25 * 3_600_000, '25 h 00 min']
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })
})

describe('filtersSummary', () => {
  const none = { start_date: null, end_date: null, account_ids: [], tag_ids: [] }
  const lookup: FilterNames = {
    accounts: new Map([['a1', 'Current Account'], ['a2', 'Savings']]),
    tags: new Map([['t1', 'Groceries'], ['t2', 'Rent'], ['t3', 'Travel']])
  }

  it('says All dates without filters', () => {
    expect(filtersSummary(none, lookup)).toBe('All dates')
  })

  it('names an open end of the range', () => {
    expect(filtersSummary({ ...none, start_date: '2025-01-01' })).toBe('2025-01-01 – latest')
    expect(filtersSummary({ ...none, end_date: '2025-06-30' })).toBe('earliest – 2025-06-30')
  })

  it('names up to two accounts and tags, and counts more', () => {
    expect(filtersSummary({ start_date: '2025-01-01', end_date: '2025-06-30', account_ids: ['a1'], tag_ids: ['t1', 't2'] }, lookup))
      .toBe('2025-01-01 – 2025-06-30 · Current Account · Groceries, Rent')
    expect(filtersSummary({ ...none, account_ids: ['a1', 'a2'], tag_ids: ['t1', 't2', 't3'] }, lookup))
      .toBe('All dates · Current Account, Savings · 3 tags')
  })

  it('says unknown for ids it cannot name', () => {
    expect(filtersSummary({ ...none, account_ids: ['gone'], tag_ids: ['t1'] }, lookup)).toBe('All dates · unknown account · Groceries')
    expect(filtersSummary({ ...none, tag_ids: ['t1'] })).toBe('All dates · unknown tag')
  })
})

describe('formatExportSize', () => {
  it('says how many parts a multi-part export has, before its total size', () => {
    expect(formatExportSize(Math.round(2.9 * 1024 ** 3), 12, 'en-US')).toBe('12 parts, 2.9 GB')
    expect(formatExportSize(2048, null, 'en-US')).toBe('2 KB')
  })
})

describe('formatRelative', () => {
  const now = Date.parse('2026-12-07T12:00:00Z')
  const ago = (ms: number) => formatRelative(new Date(now - ms).toISOString(), now)

  it('says the largest whole unit, and "yesterday" for a day', () => {
    expect(ago(20_000)).toBe('just now')
    expect(ago(5 * 60_000)).toBe('5 minutes ago')
    expect(ago(2 * 3_600_000 + 59 * 60_000)).toBe('2 hours ago')
    expect(ago(36 * 3_600_000)).toBe('yesterday')
    expect(ago(3 * 86_400_000)).toBe('3 days ago')
    expect(ago(15 * 86_400_000)).toBe('2 weeks ago')
    expect(ago(400 * 86_400_000)).toBe('last year')
  })
})
