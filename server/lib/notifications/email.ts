import { createTransport, type Mail as Transporter } from 'nodemailer'
import { formatBytes, formatCount } from '../../../shared/utils/format'
import type { Db } from '../db/client'
import { claimChannelNotification } from '../exports/jobs/housekeeping'
import { escapeHtml } from '../html'
import { formatUtc } from '../telegram/messages'
import { jobWants } from './settings'
import { jobNews, settingsUrl, type JobNews, type NewsOptions } from './summary'

/**
 * Completion and failure emails over SMTP (nodemailer; SMTP_URL, STARTTLS when the server offers
 * it). Claimed once per job through job_notifications before sending, as Telegram claims
 * notified_at: a crash between claim and send loses the email rather than risking a duplicate.
 */

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
    ['Accounts', names(n.accountNames)],
    ['Tags', names(n.tagNames)],
    ...(n.outcome === 'completed'
      ? [['Rows', formatCount(n.rowCount, 'en-US')], ['Size', formatBytes(n.sizeBytes, 'en-US')]] as Array<[string, string]>
      : [['Reason', n.reason ?? '']] as Array<[string, string]>)
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

export interface EmailNotifierOptions extends NewsOptions {
  db: Db
  mailer: Transporter
  from: string
  log: (line: string) => void
  /** Each decision's outcome, for outport_notifications_total{channel="email"}. */
  metrics?: (outcome: EmailOutcome) => void
}

export type EmailOutcome = 'sent' | 'already-notified' | 'not-wanted' | 'failed'

export class EmailNotifier {
  private readonly inflight = new Set<Promise<unknown>>()

  constructor(private readonly opts: EmailNotifierOptions) {}

  /** In the background: a slow SMTP server never holds a worker slot. */
  enqueue(jobId: string): void {
    const task = this.notify(jobId).catch((error: Error) => {
      this.opts.log(`email for job ${jobId} failed: ${error.message}`)
      this.opts.metrics?.('failed')
    }).finally(() => this.inflight.delete(task))
    this.inflight.add(task)
  }

  async notify(jobId: string): Promise<EmailOutcome> {
    const outcome = await this.decide(jobId)
    this.opts.metrics?.(outcome)
    return outcome
  }

  private async decide(jobId: string): Promise<EmailOutcome> {
    const { db } = this.opts
    const job = await claimChannelNotification(db, jobId, 'email')
    if (!job) return 'already-notified'
    const [user, wanted] = await Promise.all([
      db.user.findUnique({ where: { id: job.userId }, select: { email: true, disabledAt: true } }),
      jobWants(db, job, 'email')
    ])
    if (!user || user.disabledAt || !wanted) return 'not-wanted'
    const message = exportEmail(await jobNews(db, job, this.opts), this.opts.appUrl)
    return this.send(user.email, message, `job ${job.id}`)
  }

  async send(to: string, message: EmailMessage, what: string): Promise<EmailOutcome> {
    try {
      await this.opts.mailer.sendMail({ from: this.opts.from, to, ...message })
      return 'sent'
    } catch (error) {
      this.opts.log(`email for ${what} not delivered: ${(error as Error).message}`)
      return 'failed'
    }
  }

  async close(deadlineMs = 10_000): Promise<void> {
    const all = Promise.allSettled([...this.inflight])
    await Promise.race([all, new Promise(r => setTimeout(r, deadlineMs).unref())])
    this.opts.mailer.close()
  }
}
