import type { ExportFilters, ScheduleRunInfo } from '#shared/types/exports'
import { formatLabel, type Compression, type ExportFormat } from '#shared/types/formats'
import { formatCount, formatExportSize } from '#shared/utils/format'
import { escapeHtml } from '../html'

/**
 * The texts the bot sends. Notifications use Telegram's HTML parse mode, so everything that comes
 * from users (account and tag names) or from elsewhere (dataset titles, error messages) is escaped;
 * replies to commands are plain text and need no escaping.
 */

export interface ExportSummary {
  datasetTitle: string
  format: ExportFormat
  /** Absent = none. */
  compression?: Compression
  filters: ExportFilters
  /** Names of the filter's accounts and tags by id; ids missing here were removed since. */
  accountNames: ReadonlyMap<string, string>
  tagNames: ReadonlyMap<string, string>
  /** Set for a schedule's run: the message says which schedule it came from. */
  schedule?: ScheduleRunInfo
}

export interface CompletedExport extends ExportSummary {
  /** Where the file was delivered, or why a delivery failed: one line each. */
  deliveries?: string[]
  rowCount: number
  /** The rows in words when not just a count ("no new rows since the last run"). */
  rowsText?: string
  sizeBytes: number
  /** A multi-part export's number of parts. */
  partCount?: number | null
  downloadUrl: string
  /** When the download link (and the file) stop working. */
  expiresAt: Date
}

export interface FailedExport extends ExportSummary {
  reason: string
  /** Where the user can start it again. */
  retryUrl: string
}

// A message may hold 4,096 characters; long filter lists are cut so the link always fits.
const MAX_NAMES = 10
const MAX_NAME_LENGTH = 64

export function completedMessage(m: CompletedExport): string {
  return [
    `✅ <b>Export ready: ${escapeHtml(m.datasetTitle)}</b>`,
    ...summaryLines(m),
    // Sizes as the app shows them; the reader's locale is unknown, so English digits.
    `Rows: ${m.rowsText ?? formatCount(m.rowCount, 'en-US')}`,
    `Size: ${formatExportSize(m.sizeBytes, m.partCount, 'en-US')}`,
    ...(m.deliveries ?? []).map(escapeHtml),
    '',
    `<a href="${escapeHtml(m.downloadUrl)}">Download</a> (available until ${formatUtc(m.expiresAt)})`
  ].join('\n')
}

export function failedMessage(m: FailedExport): string {
  return [
    `❌ <b>Export failed: ${escapeHtml(m.datasetTitle)}</b>`,
    ...summaryLines(m),
    `Reason: ${escapeHtml(m.reason)}`,
    '',
    `<a href="${escapeHtml(m.retryUrl)}">Open Outport</a> to try again.`
  ].join('\n')
}

function summaryLines(m: ExportSummary): string[] {
  return [
    ...scheduleLines(m.schedule),
    `Format: ${escapeHtml(formatLabel(m.format, m.compression ?? 'none'))}`,
    `Dates: ${dateRange(m.filters.start_date, m.filters.end_date)}`,
    `Accounts: ${nameList(m.filters.account_ids, m.accountNames, 'removed account')}`,
    `Tags: ${nameList(m.filters.tag_ids, m.tagNames, 'removed tag')}`
  ]
}

function scheduleLines(schedule: ScheduleRunInfo | undefined): string[] {
  if (!schedule) return []
  const name = schedule.name ? `“${escapeHtml(truncate(schedule.name, MAX_NAME_LENGTH * 2))}”` : 'a schedule'
  const how = schedule.trigger === 'run_now' ? ' (run now)' : ''
  const lines = [`Schedule: ${name}${how}`]
  if (schedule.missed_slots > 0) {
    lines.push(`Catch-up run: ${schedule.missed_slots} earlier ${schedule.missed_slots === 1 ? 'run was' : 'runs were'} skipped while the server was down`)
  }
  return lines
}

export interface PausedSchedule {
  name: string | null
  /** The schedule's cadence in words. */
  cadence: string
  failures: number
  reason: string | null
  schedulesUrl: string
}

export function schedulePausedMessage(m: PausedSchedule): string {
  const name = m.name ? `“${escapeHtml(truncate(m.name, MAX_NAME_LENGTH * 2))}”` : `(${escapeHtml(m.cadence)})`
  return [
    `⏸️ <b>Schedule paused: ${name}</b>`,
    `Its last ${m.failures} runs failed, so it will not run again until you resume it.`,
    ...(m.reason ? [`Last error: ${escapeHtml(m.reason)}`] : []),
    '',
    `<a href="${escapeHtml(m.schedulesUrl)}">Open your schedules</a> to fix and resume it.`
  ].join('\n')
}

export function accountChangedMessage(what: string, activityUrl: string): string {
  return [
    '🔔 <b>Your Outport account changed</b>',
    `${escapeHtml(what)}.`,
    `If this was not you, undo it and revoke the API token that made it: <a href="${escapeHtml(activityUrl)}">Activity</a> names it.`
  ].join('\n')
}

export function webhookDisabledMessage(url: string, reason: string): string {
  return [
    '⚠️ <b>Webhook endpoint disabled</b>',
    `Outport stopped sending to ${escapeHtml(url)}: ${escapeHtml(reason)}`,
    'Re-create it in the notification settings once it works again.'
  ].join('\n')
}

function dateRange(start: string | null, end: string | null): string {
  if (start && end) return `${escapeHtml(start)} to ${escapeHtml(end)}`
  if (start) return `from ${escapeHtml(start)}`
  if (end) return `until ${escapeHtml(end)}`
  return 'all'
}

function nameList(ids: readonly string[], names: ReadonlyMap<string, string>, missing: string): string {
  if (!ids.length) return 'all'
  const shown = ids.slice(0, MAX_NAMES).map((id) => {
    const name = names.get(id)
    return name === undefined ? `(${missing})` : escapeHtml(truncate(name, MAX_NAME_LENGTH))
  })
  const more = ids.length - shown.length
  return shown.join(', ') + (more > 0 ? ` and ${more} more` : '')
}

function truncate(text: string, max: number): string {
  // By code point, so an emoji is never cut in half.
  const chars = Array.from(text)
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text
}

/** `2026-11-23 10:00 UTC`: the reader's time zone is unknown. */
export function formatUtc(date: Date): string {
  const iso = date.toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`
}

// Replies to commands (plain text).
export const REPLIES = {
  linked: (email: string) => `Connected to Outport as ${email}. You will get a message here when an export finishes. Send /stop to disconnect.`,
  badCode: 'Sorry, that code is not valid: it may have expired or been used already. In Outport, choose "Connect Telegram" to get a new one (a code works once, for 15 minutes).',
  hello: 'Hello! To get Outport export notifications here, choose "Connect Telegram" in Outport and follow the link.',
  alreadyLinked: 'This chat is connected to Outport. Send /stop to disconnect.',
  linkedToAnother: 'This chat is linked to another Outport account; send /stop first.',
  stopped: 'Disconnected. This chat will no longer get Outport notifications.',
  notLinked: 'This chat is not connected to Outport.',
  privateOnly: 'Please send this in a private chat with the bot: export links are personal.'
} as const
