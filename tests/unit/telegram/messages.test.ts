import { describe, expect, it } from 'vitest'
import { completedMessage, escapeHtml, failedMessage, formatBytes, formatCount, type ExportSummary } from '../../../server/lib/telegram/messages'

const A1 = '11111111-1111-4111-8111-111111111111'
const A2 = '22222222-2222-4222-8222-222222222222'
const T1 = '33333333-3333-4333-8333-333333333333'
const GONE = '44444444-4444-4444-8444-444444444444'

const summary: ExportSummary = {
  datasetTitle: 'Transactions',
  format: 'csv',
  filters: { start_date: '2026-01-01', end_date: '2026-03-31', account_ids: [A1, A2], tag_ids: [T1, GONE] },
  accountNames: new Map([[A1, 'Main <Current> & "Joint"'], [A2, 'Savings']]),
  tagNames: new Map([[T1, '<b>Food</b> & drink']])
}

describe('Telegram messages', () => {
  it('completion: exact HTML, every user-controlled name escaped, the link attribute too', () => {
    const text = completedMessage({
      ...summary,
      rowCount: 1234,
      sizeBytes: 58_064,
      downloadUrl: 'https://outport.example/exports/abc/download?token=1.x&y="z"',
      expiresAt: new Date('2026-11-23T10:05:59Z')
    })
    expect(text).toBe([
      '✅ <b>Export ready: Transactions</b>',
      'Format: CSV',
      'Dates: 2026-01-01 to 2026-03-31',
      'Accounts: Main &lt;Current&gt; &amp; &quot;Joint&quot;, Savings',
      'Tags: &lt;b&gt;Food&lt;/b&gt; &amp; drink, (removed tag)',
      'Rows: 1,234',
      'Size: 56.7 KB',
      '',
      '<a href="https://outport.example/exports/abc/download?token=1.x&amp;y=&quot;z&quot;">Download</a> (available until 2026-11-23 10:05 UTC)'
    ].join('\n'))
  })

  it('failure: which export, why (escaped), and a link to the app', () => {
    const text = failedMessage({
      ...summary,
      datasetTitle: 'Daily <spending>',
      format: 'parquet',
      filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] },
      reason: 'The file storage service could not be reached. Please try again in a few minutes.',
      appUrl: 'https://outport.example/analytics/datasets'
    })
    expect(text).toBe([
      '❌ <b>Export failed: Daily &lt;spending&gt;</b>',
      'Format: Parquet',
      'Dates: all',
      'Accounts: all',
      'Tags: all',
      'Reason: The file storage service could not be reached. Please try again in a few minutes.',
      '',
      '<a href="https://outport.example/analytics/datasets">Open Outport</a> to try again.'
    ].join('\n'))
  })

  it('open date ranges, long lists and long names stay short and readable', () => {
    const ids = Array.from({ length: 13 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`)
    const names = new Map(ids.map((id, i) => [id, i === 0 ? `${'&'.repeat(70)}` : `Account ${i}`]))
    const text = failedMessage({
      ...summary,
      filters: { start_date: '2026-02-01', end_date: null, account_ids: ids, tag_ids: [] },
      accountNames: names,
      reason: 'x',
      appUrl: 'https://outport.example/'
    })
    expect(text).toContain('Dates: from 2026-02-01\n')
    expect(text).toContain(`Accounts: ${'&amp;'.repeat(63)}…, Account 1, Account 2, Account 3, Account 4, Account 5, Account 6, Account 7, Account 8, Account 9 and 3 more\n`)
    expect(failedMessage({ ...summary, filters: { ...summary.filters, start_date: null }, reason: 'x', appUrl: 'https://o/' })).toContain('Dates: until 2026-03-31\n')
  })

  it('formats counts and sizes', () => {
    expect(formatCount(0)).toBe('0')
    expect(formatCount(1234)).toBe('1,234')
    expect(formatCount(5_000_000)).toBe('5,000,000')
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(1024)).toBe('1.0 KB')
    expect(formatBytes(150 * 1024)).toBe('150 KB')
    expect(formatBytes(574 * 1024 * 1024)).toBe('574 MB')
    expect(formatBytes(3.25 * 1024 ** 3)).toBe('3.3 GB')
  })

  it('escapes exactly the characters HTML parse mode needs', () => {
    expect(escapeHtml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c\'')
  })
})
