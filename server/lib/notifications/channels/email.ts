import { createTransport, type Mail as Transporter } from 'nodemailer'
import type { SchedulePausedData } from '#shared/types/notifications'
import { describeCadence } from '#shared/types/schedules'
import { formatExportSize } from '#shared/utils/format'
import type { Db } from '#server/lib/db/client'
import { escapeHtml } from '#server/lib/html'
import { settingsUrl } from '#server/lib/links'
import type { LogFn } from '#server/lib/log'
import { formatUtc } from '#server/lib/telegram/messages'
import type { AccountChange, Channel, ChannelFactory, NotificationEvent, Outcome } from '../channel'
import { deliveryLines, type JobNews } from '../summary'

/** Emails over SMTP (nodemailer; SMTP_URL, STARTTLS when the server offers it) to the account's address. */

export interface EmailMessage { subject: string, text: string, html: string }

export function createMailer(smtpUrl: string): Transporter {
  // Short timeouts: a hung SMTP server must not pile up notifications in the worker.
  const url = new URL(smtpUrl)
  for (const [key, value] of Object.entries({ connectionTimeout: '10000', greetingTimeout: '10000', socketTimeout: '20000' })) {
    if (!url.searchParams.has(key)) url.searchParams.set(key, value)
  }
  return createTransport(url.toString())
}

const MAX_NAMES = 10

function names(list: string[]): string {
  if (!list.length) return 'all'
  const more = list.length - MAX_NAMES
  return list.slice(0, MAX_NAMES).join(', ') + (more > 0 ? ` and ${more} more` : '')
}

/** A scheduled run names its schedule (as the Telegram message does), and how it came about. */
function scheduleFacts(n: JobNews): Array<[string, string]> {
  const run = n.schedule
  if (!run) return []
  const facts: Array<[string, string]> = [['Schedule', `${run.name ?? '(unnamed schedule)'}${run.trigger === 'run_now' ? ' (run now)' : ''}`]]
  if (run.missed_slots > 0) {
    facts.push(['Catch-up run', `${run.missed_slots} earlier ${run.missed_slots === 1 ? 'run was' : 'runs were'} skipped while the server was down`])
  }
  return facts
}

/** One line per fact; values are plain here and escaped when the HTML part is built. */
function facts(n: JobNews): Array<[string, string]> {
  const f = n.job.metadata.filters
  const dates = f.start_date && f.end_date ? `${f.start_date} to ${f.end_date}` : f.start_date ? `from ${f.start_date}` : f.end_date ? `until ${f.end_date}` : 'all'
  return [
    ...scheduleFacts(n),
    ['Format', n.formatLabel],
    ['Dates', dates],
    ['Accounts', names([...n.accountNames.values()])],
    ['Tags', names([...n.tagNames.values()])],
    ...(n.outcome === 'completed'
      ? [['Rows', n.rowsText], ['Size', formatExportSize(n.sizeBytes, n.partCount, 'en-US')]] as Array<[string, string]>
      : [['Reason', n.reason ?? '']] as Array<[string, string]>),
    ...deliveryLines(n.deliveries).map(line => ['Destination', line] as [string, string])
  ]
}

/** Subject, plain text and HTML for one finished export; every user-supplied value is escaped in HTML. */
export function exportEmail(n: JobNews, appUrl: string): EmailMessage {
  const done = n.outcome === 'completed'
  // Header values: no line breaks (nodemailer encodes the rest).
  const subject = `${done ? 'Export ready' : 'Export failed'}: ${n.datasetTitle}${n.schedule?.name ? ` (schedule “${n.schedule.name}”)` : ''}`.replace(/[\r\n]+/g, ' ')
  const lines = facts(n)
  const link = done ? n.downloadUrl : n.retryUrl
  const linkLabel = done ? 'Download' : 'Open Outport to try again'
  const until = done && n.expiresAt ? `available until ${formatUtc(n.expiresAt)}` : null
  const settings = settingsUrl(appUrl)
  const text = [
    done ? `Your export of ${n.datasetTitle} is ready.` : `Your export of ${n.datasetTitle} failed.`,
    '',
    ...lines.map(([k, v]) => `${k}: ${v}`),
    '',
    ...(link ? [`${linkLabel}: ${link}`] : []),
    ...(until ? [`(${until})`] : []),
    '',
    '--',
    `Notification settings: ${settings}`
  ].join('\n')
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family:system-ui,sans-serif;color:#1f2937;line-height:1.5">
<h1 style="font-size:18px">${escapeHtml(done ? 'Export ready' : 'Export failed')}: ${escapeHtml(n.datasetTitle)}</h1>
<table cellpadding="4">${lines.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>
${link ? `<p><a href="${escapeHtml(link)}">${escapeHtml(linkLabel)}</a>${until ? ` (${escapeHtml(until)})` : ''}</p>` : ''}
<hr><p style="font-size:12px;color:#6b7280"><a href="${escapeHtml(settings)}">Notification settings</a></p>
</body></html>
`
  return { subject, text, html }
}

/** The email telling a user their webhook endpoint was disabled. */
export function endpointDisabledEmail(url: string, reason: string, appUrl: string): EmailMessage {
  const settings = settingsUrl(appUrl)
  return {
    subject: 'Webhook endpoint disabled',
    text: `Outport stopped sending to your webhook endpoint ${url}: ${reason}\n\nRe-create it in the notification settings once it works again: ${settings}`,
    html: `<p>Outport stopped sending to your webhook endpoint <code>${escapeHtml(url)}</code>: ${escapeHtml(reason)}</p><p><a href="${escapeHtml(settings)}">Notification settings</a></p>`
  }
}

/** The email telling a user where their notifications go changed. */
export function accountChangedEmail(change: AccountChange, appUrl: string): EmailMessage {
  const settings = settingsUrl(appUrl)
  const advice = 'If this was not you, undo it in your notification settings, revoke the API token that made it (the Activity page names it) and change your password.'
  return {
    subject: 'Your Outport account changed',
    text: `${change.what}.\n\n${advice}\n\nActivity: ${change.activityLink}\nNotification settings: ${settings}`,
    html: `<p>${escapeHtml(change.what)}.</p><p>${escapeHtml(advice)}</p><p><a href="${escapeHtml(change.activityLink)}">Activity</a> · <a href="${escapeHtml(settings)}">Notification settings</a></p>`
  }
}

/** The email telling a user one of their schedules paused itself. */
export function schedulePausedEmail(paused: SchedulePausedData, appUrl: string): EmailMessage {
  const name = paused.name ? `“${paused.name}”` : `(${describeCadence(paused.cadence)})`
  const subject = `Schedule paused: ${name}`.replace(/[\r\n]+/g, ' ')
  const lines = [
    `Its last ${paused.failures} runs failed, so it will not run again until you resume it.`,
    ...(paused.last_error ? [`Last error: ${paused.last_error}`] : [])
  ]
  const settings = settingsUrl(appUrl)
  return {
    subject,
    text: [...lines, '', `Open your schedules to fix and resume it: ${paused.schedules_link}`, '', '--', `Notification settings: ${settings}`].join('\n'),
    html: `<h1 style="font-size:18px">${escapeHtml(subject)}</h1>${lines.map(l => `<p>${escapeHtml(l)}</p>`).join('')}<p><a href="${escapeHtml(paused.schedules_link)}">Open your schedules</a> to fix and resume it.</p><hr><p style="font-size:12px;color:#6b7280"><a href="${escapeHtml(settings)}">Notification settings</a></p>`
  }
}

export class EmailChannel implements Channel {
  readonly id = 'email'
  readonly events = ['export.completed', 'export.failed', 'schedule.paused', 'webhook.disabled', 'account.changed'] as const

  constructor(private readonly opts: { db: Db, mailer: Transporter, from: string, appUrl: string, log: LogFn }) {}

  async send(event: NotificationEvent): Promise<Outcome> {
    const user = await this.opts.db.user.findUnique({ where: { id: event.userId }, select: { email: true, disabledAt: true } })
    if (!user || user.disabledAt) return 'not-wanted'
    const { appUrl } = this.opts
    switch (event.type) {
      case 'export.completed':
      case 'export.failed':
        return this.deliver(user.email, exportEmail(event.news, appUrl), `job ${event.news.job.id}`)
      case 'schedule.paused':
        return this.deliver(user.email, schedulePausedEmail(event.paused, appUrl), `schedule ${event.paused.id}`)
      case 'webhook.disabled':
        return this.deliver(user.email, endpointDisabledEmail(event.url, event.reason, appUrl), `disabled webhook ${event.url}`)
      case 'account.changed':
        return this.deliver(user.email, accountChangedEmail(event.change, appUrl), 'an account change')
    }
  }

  private async deliver(to: string, message: EmailMessage, what: string): Promise<Outcome> {
    try {
      await this.opts.mailer.sendMail({ from: this.opts.from, to, ...message })
      return 'sent'
    } catch (error) {
      this.opts.log(`email for ${what} not delivered: ${(error as Error).message}`)
      return 'failed'
    }
  }

  async close(): Promise<void> {
    this.opts.mailer.close()
  }
}

/** On when SMTP_URL is set (or a transport is handed in). */
export const emailChannel: ChannelFactory = (deps) => {
  const mailer = deps.mailer ?? (deps.config.SMTP_URL ? createMailer(deps.config.SMTP_URL) : null)
  return mailer ? new EmailChannel({ db: deps.db, mailer, from: deps.config.EMAIL_FROM, appUrl: deps.config.APP_URL, log: deps.log }) : null
}
