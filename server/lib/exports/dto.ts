import type { Config } from '../config'
import { presignDownload, type Storage } from '../storage/s3'
import { exportFilename, exportManifestFilename } from '#shared/utils/filename'
import { resolveExportOptions, type ExportJobDTO } from '#shared/types/exports'
import type { ExportDeliveryDTO } from '#shared/types/destinations'
import { fileContentType } from '#shared/types/formats'
import type { ExportJob } from './jobs/record'
import { retentionEnd } from './retention'

export interface DownloadLink { url: string, expiresAt: Date }

/** A fresh presigned URL for a completed export's file, or null when there is no file to give (or it is in parts). */
export async function mintDownloadLink(storage: Storage, job: ExportJob, ttlSeconds: number): Promise<DownloadLink | null> {
  const { metadata } = job
  if (job.status !== 'completed' || !metadata.s3_key || metadata.parts) return null
  const url = await presignDownload(storage, metadata.s3_key, {
    filename: exportFilename(metadata),
    contentType: fileContentType(metadata.format, metadata.compression ?? 'none'),
    expiresIn: ttlSeconds
  })
  return { url, expiresAt: new Date(Date.now() + ttlSeconds * 1000) }
}

/** Fresh presigned URLs for a completed multi-part export: each part's, in order, and the manifest's. */
export interface PartLinks { parts: string[], manifest: string, expiresAt: Date }

export async function mintPartLinks(storage: Storage, job: ExportJob, ttlSeconds: number): Promise<PartLinks | null> {
  const { metadata } = job
  if (job.status !== 'completed' || !metadata.s3_key || !metadata.parts) return null
  const contentType = fileContentType(metadata.format, metadata.compression ?? 'none')
  const [manifest, ...parts] = await Promise.all([
    presignDownload(storage, metadata.s3_key, { filename: exportManifestFilename(metadata), contentType: 'application/json', expiresIn: ttlSeconds }),
    ...metadata.parts.map(part => presignDownload(storage, part.key, { filename: part.filename, contentType, expiresIn: ttlSeconds }))
  ])
  return { parts, manifest: manifest!, expiresAt: new Date(Date.now() + ttlSeconds * 1000) }
}

/** When retention deletes a completed export's file (null unless completed). */
export function fileExpiresAt(job: ExportJob, retentionHours: number): Date | null {
  return job.status === 'completed' && job.completedAt ? retentionEnd(job.completedAt, retentionHours) : null
}

export type DtoConfig = Pick<Config, 'EXPORT_URL_TTL_SECONDS' | 'EXPORT_RETENTION_HOURS'>

/** The job as the API shows it, with a download URL minted for this read. */
export async function toExportDTO(job: ExportJob, storage: Storage, config: DtoConfig, queuePosition: number | null = null, deliveries: ExportDeliveryDTO[] = []): Promise<ExportJobDTO> {
  const [link, partLinks] = await Promise.all([mintDownloadLink(storage, job, config.EXPORT_URL_TTL_SECONDS), mintPartLinks(storage, job, config.EXPORT_URL_TTL_SECONDS)])
  return exportDTO(job, link, config, queuePosition, deliveries, partLinks)
}

/**
 * The job as the API shows it, given its download link. Separate from minting so notifications
 * (webhooks) can show the same fields without a presigned URL that would outlive its minutes.
 */
export function exportDTO(job: ExportJob, link: DownloadLink | null, config: Pick<DtoConfig, 'EXPORT_RETENTION_HOURS'>, queuePosition: number | null = null, deliveries: ExportDeliveryDTO[] = [], partLinks: PartLinks | null = null): ExportJobDTO {
  const { metadata } = job
  const options = resolveExportOptions(metadata)
  return {
    job_id: job.id,
    status: job.status,
    dataset_id: metadata.dataset_id,
    dataset_name: metadata.dataset_name,
    format: metadata.format,
    filters: { ...metadata.filters, row_filters: metadata.filters.row_filters ?? [] },
    compression: options.compression,
    columns: options.columns,
    limit: options.limit,
    csv: options.csv,
    parquet_compression: options.parquet_compression,
    row_count: metadata.row_count ?? null,
    file_size_bytes: metadata.file_size_bytes ?? null,
    checksum_sha256: metadata.checksum_sha256 ?? null,
    progress: job.progress,
    error: job.error,
    attempts: job.attempts,
    queue_position: queuePosition,
    download_url: link?.url ?? null,
    expires_at: (link ?? partLinks)?.expiresAt.toISOString() ?? null,
    file_expires_at: fileExpiresAt(job, config.EXPORT_RETENTION_HOURS)?.toISOString() ?? null,
    created_at: job.createdAt.toISOString(),
    source: job.source,
    started_at: job.startedAt?.toISOString() ?? null,
    completed_at: job.completedAt?.toISOString() ?? null,
    schedule_id: job.scheduleId,
    scheduled_for: job.scheduledFor?.toISOString() ?? null,
    schedule_run: metadata.schedule ?? null,
    deleted_at: job.deletedAt?.toISOString() ?? null,
    data_as_of: metadata.incremental?.as_of ?? null,
    incremental_from: metadata.incremental?.from ?? null,
    max_part_mb: metadata.max_part_mb ?? null,
    max_part_rows: metadata.max_part_rows ?? null,
    parts: metadata.parts?.map(({ key: _key, ...part }, i) => ({ index: i + 1, ...part, download_url: partLinks?.parts[i] ?? null })) ?? null,
    manifest_url: partLinks?.manifest ?? null,
    deliveries
  }
}
