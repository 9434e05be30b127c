import type { ScheduleRunInfo } from '#shared/types/exports'
import { formatLabel } from '#shared/types/formats'
import { formatCount } from '#shared/utils/format'
import { isUuid } from '#shared/utils/uuid'
import type { Db } from '../db/client'
import { signedDownloadUrl } from '../exports/download-token'
import type { ExportJob } from '../exports/jobs/record'
import { retentionEnd } from '../exports/retention'
import { retryUrl } from '../links'
import { findDataset } from '../warehouse/datasets'
import { deliveriesOfJob } from '../destinations/deliveries'
import type { ExportDeliveryDTO } from '#shared/types/destinations'

/** What every channel says about a finished export, gathered once (names looked up, links signed). */
export interface JobNews {
  job: ExportJob
  outcome: 'completed' | 'failed'
  datasetTitle: string
  formatLabel: string
  /** Names of the filter's accounts and tags by id; ids missing here were removed since. */
  accountNames: ReadonlyMap<string, string>
  tagNames: ReadonlyMap<string, string>
  /** Set for a schedule's run: its name when the run was created (null: an unnamed schedule). */
  schedule: ScheduleRunInfo | null
  rowCount: number
  /** The rows as every channel words them: a count, or for an incremental run without any, NO_NEW_ROWS. */
  rowsText: string
  sizeBytes: number
  /** A multi-part export's number of parts (null: one file); messages say "12 parts, 2.9 GB". */
  partCount?: number | null
  /** The signed app link (valid for the file's life); null for failures or without a signing key. */
  downloadUrl: string | null
  expiresAt: Date | null
  reason: string | null
  retryUrl: string
  /** Where the file was delivered, or why a delivery failed (announced once every delivery settled). */
  deliveries: ExportDeliveryDTO[]
}

/** One line per delivery: "Delivered to s3://bucket/key" or "Delivery to Vendor SFTP failed: …". */
export function deliveryLines(deliveries: ExportDeliveryDTO[]): string[] {
  return deliveries.map((d) => {
    if (d.status === 'delivered') return `Delivered to ${d.location}`
    if (d.status === 'failed') return `Delivery to ${d.name} failed: ${d.error ?? 'unknown error'}`
    return d.error ? `Delivery to ${d.name} failed, retrying: ${d.error}` : `Delivery to ${d.name} is still under way`
  })
}

/** An incremental run that found nothing loaded since the last one (its file has the header only). */
export const NO_NEW_ROWS = 'no new rows since the last run'

export interface NewsOptions { appUrl: string, downloadKey: Buffer | null, retentionHours: number }

export async function jobNews(db: Db, job: ExportJob, opts: NewsOptions): Promise<JobNews> {
  const { metadata } = job
  const filters = metadata.filters
  const [accounts, tags] = await Promise.all([
    db.account.findMany({ where: { userId: job.userId, id: { in: filters.account_ids.filter(isUuid) } }, select: { id: true, name: true } }),
    db.tag.findMany({ where: { userId: job.userId, id: { in: filters.tag_ids.filter(isUuid) } }, select: { id: true, name: true } })
  ])
  const completed = job.status === 'completed'
  const expiresAt = completed && job.completedAt ? retentionEnd(job.completedAt, opts.retentionHours) : null
  return {
    job,
    outcome: completed ? 'completed' : 'failed',
    datasetTitle: findDataset(metadata.dataset_id)?.title ?? metadata.dataset_name,
    // As the Telegram message names it: 'Excel', 'CSV (gzip)'.
    formatLabel: formatLabel(metadata.format, metadata.compression ?? 'none'),
    accountNames: new Map(accounts.map(a => [a.id, a.name])),
    tagNames: new Map(tags.map(t => [t.id, t.name])),
    schedule: metadata.schedule ?? null,
    rowCount: metadata.row_count ?? 0,
    rowsText: metadata.incremental && !metadata.row_count ? NO_NEW_ROWS : formatCount(metadata.row_count ?? 0, 'en-US'),
    sizeBytes: metadata.file_size_bytes ?? 0,
    partCount: metadata.parts?.length ?? null,
    downloadUrl: expiresAt && opts.downloadKey ? signedDownloadUrl(opts.appUrl, opts.downloadKey, job.id, expiresAt) : null,
    expiresAt,
    reason: completed ? null : job.error?.message ?? 'Unknown error.',
    retryUrl: retryUrl(opts.appUrl, metadata.dataset_id, job.id),
    deliveries: completed ? await deliveriesOfJob(db, job) : []
  }
}
