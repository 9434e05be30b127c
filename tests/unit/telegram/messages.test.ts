import { describe, expect, it } from 'vitest'
import { escapeHtml } from '#server/lib/html'
import { completedMessage, failedMessage, schedulePausedMessage, type ExportSummary } from '#server/lib/telegram/messages'

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

  it('names the format as a person would, with its compression', () => {
    const line = (format: ExportSummary['format'], compression?: ExportSummary['compression']) =>
      failedMessage({ ...summary, format, compression, reason: 'x', retryUrl: 'https://outport.example/' }).split('\n')[1]
    expect(line('xlsx')).toBe('Format: Excel')
    expect(line('csv', 'gzip')).toBe('Format: CSV (gzip)')
    expect(line('jsonl', 'zstd')).toBe('Format: JSON Lines (zstd)')
    expect(line('json', 'none')).toBe('Format: JSON')
  })

  it('failure: which export, why (escaped), and a link to the app', () => {
    const text = failedMessage({
      ...summary,
      datasetTitle: 'Daily <spending>',
      format: 'parquet',
      filters: { start_date: null, end_date: null, account_ids: [], tag_ids: [] },
      reason: 'The file storage service could not be reached. Please try again in a few minutes.',
      retryUrl: 'https://outport.example/analytics/datasets?export=d&job=j'
    })
    expect(text).toBe([
      '❌ <b>Export failed: Daily &lt;spending&gt;</b>',
      'Format: Parquet',
      'Dates: all',
      'Accounts: all',
      'Tags: all',
      'Reason: The file storage service could not be reached. Please try again in a few minutes.',
      '',
      '<a href="https://outport.example/analytics/datasets?export=d&amp;job=j">Open Outport</a> to try again.'
    ].join('\n'))
  })

  it('a scheduled run names its schedule (escaped) and says when it is a catch-up run', () => {
    const text = failedMessage({
      ...summary,
      datasetTitle: 'Transactions',
      format: 'csv',
      filters: { start_date: '2026-02-23', end_date: '2026-03-01', account_ids: [], tag_ids: [] },
      schedule: { name: 'Weekly <ops>', trigger: 'cadence', missed_slots: 3 },
      reason: 'Some of the schedule\'s accounts no longer exist.',
      retryUrl: 'https://outport.example/analytics/datasets'
    })
    expect(text.split('\n').slice(0, 4)).toEqual([
      '❌ <b>Export failed: Transactions</b>',
      'Schedule: “Weekly &lt;ops&gt;”',
      'Catch-up run: 3 earlier runs were skipped while the server was down',
      'Format: CSV'
    ])
    expect(failedMessage({ ...summary, schedule: { name: null, trigger: 'run_now', missed_slots: 0 }, reason: 'x', retryUrl: 'https://o.example/' }))
      .toContain('Schedule: a schedule (run now)')
    expect(schedulePausedMessage({ name: 'Weekly', cadence: 'Every Monday at 08:00 (Europe/London)', failures: 5, reason: 'Gone & deleted', schedulesUrl: 'https://o.example/analytics/schedules' })).toBe([
      '⏸️ <b>Schedule paused: “Weekly”</b>',
      'Its last 5 runs failed, so it will not run again until you resume it.',
      'Last error: Gone &amp; deleted',
      '',
      '<a href="https://o.example/analytics/schedules">Open your schedules</a> to fix and resume it.'
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
      retryUrl: 'https://outport.example/'
    })
    expect(text).toContain('Dates: from 2026-02-01\n')
    expect(text).toContain(`Accounts: ${'&amp;'.repeat(63)}…, Account 1, Account 2, Account 3, Account 4, Account 5, Account 6, Account 7, Account 8, Account 9 and 3 more\n`)
    expect(failedMessage({ ...summary, filters: { ...summary.filters, start_date: null }, reason: 'x', retryUrl: 'https://o/' })).toContain('Dates: until 2026-03-31\n')
  })

  it('counts and sizes read as in the app, with English digits', () => {
    const text = (rowCount: number, sizeBytes: number) => completedMessage({ ...summary, rowCount, sizeBytes, downloadUrl: 'https://o/', expiresAt: new Date(0) })
    expect(text(0, 0)).toContain('\nRows: 0\nSize: 0 B\n')
    expect(text(5_000_000, 574 * 1024 * 1024)).toContain('\nRows: 5,000,000\nSize: 574 MB\n')
    expect(text(1234, 1.5 * 1024 * 1024)).toContain('\nRows: 1,234\nSize: 1.5 MB\n')
    // A multi-part export: how many parts, then their total.
    expect(completedMessage({ ...summary, rowCount: 10, sizeBytes: Math.round(2.9 * 1024 ** 3), partCount: 12, downloadUrl: 'https://o/', expiresAt: new Date(0) })).toContain('\nSize: 12 parts, 2.9 GB\n')
  })

  it('escapes exactly the characters HTML parse mode needs', () => {
    expect(escapeHtml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c\'')
  })
})
