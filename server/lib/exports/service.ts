import type { Db } from '../db/client.ts'
import type { Job } from '../jobs/queue.ts'
import { presignDownload, type Storage } from '../storage/s3.ts'
import { exportFilename } from '../../../shared/utils/filename.ts'
import type { FieldError } from '../../../shared/types/api.ts'
import { CONTENT_TYPES, type ExportError, type ExportJobDTO, type ExportMetadata, type ExportProgress } from '../../../shared/types/exports.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value)
}

// Job rows as Prisma returns them, for the prepared statements below.
const JOB_FIELDS = `id, user_id AS "userId", type, status, metadata, progress, error, attempts, run_at AS "runAt",
  locked_by AS "lockedBy", locked_until AS "lockedUntil", created_at AS "createdAt", started_at AS "startedAt",
  completed_at AS "completedAt", updated_at AS "updatedAt", notified_at AS "notifiedAt",
  idempotency_key AS "idempotencyKey", request_hash AS "requestHash"`

/**
 * The caller's export job, or null: another user's job and a malformed id look the same.
 * Read on every status poll, so it is a prepared statement on the pool (see db/client.ts).
 */
export async function findUserExport(db: Db, userId: string, jobId: unknown): Promise<Job | null> {
  if (!isUuid(jobId)) return null
  const { rows } = await db.pool.query<Job>({
    name: 'outport_user_export',
    text: `SELECT ${JOB_FIELDS} FROM jobs WHERE id = $1 AND user_id = $2 AND type = 'EXPORT'`,
    values: [jobId.toLowerCase(), userId]
  })
  return rows[0] ?? null
}

export interface DownloadLink { url: string, expiresAt: Date }

export async function mintDownloadLink(storage: Storage, job: Job, ttlSeconds: number): Promise<DownloadLink | null> {
  const metadata = job.metadata as unknown as ExportMetadata
  if (job.status !== 'completed' || !metadata.s3_key) return null
  const url = await presignDownload(storage, metadata.s3_key, {
    filename: exportFilename(metadata),
    contentType: CONTENT_TYPES[metadata.format],
    expiresIn: ttlSeconds
  })
  return { url, expiresAt: new Date(Date.now() + ttlSeconds * 1000) }
}

export async function toExportDTO(job: Job, storage: Storage, ttlSeconds: number): Promise<ExportJobDTO> {
  const metadata = job.metadata as unknown as ExportMetadata
  const link = await mintDownloadLink(storage, job, ttlSeconds)
  return {
    job_id: job.id,
    status: job.status,
    dataset_id: metadata.dataset_id,
    dataset_name: metadata.dataset_name,
    format: metadata.format,
    filters: metadata.filters,
    row_count: metadata.row_count ?? null,
    file_size_bytes: metadata.file_size_bytes ?? null,
    checksum_sha256: metadata.checksum_sha256 ?? null,
    progress: (job.progress as unknown as ExportProgress | null) ?? null,
    error: (job.error as unknown as ExportError | null) ?? null,
    attempts: job.attempts,
    queue_position: null,
    download_url: link?.url ?? null,
    expires_at: link?.expiresAt.toISOString() ?? null,
    created_at: job.createdAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    completed_at: job.completedAt?.toISOString() ?? null
  }
}

/** Claimable jobs (any user's) that a worker will take before this one. */
export async function queuePosition(db: Db, job: Job): Promise<number | null> {
  if (job.status !== 'pending') return null
  const { rows: [row] } = await db.pool.query<{ ahead: number }>({
    name: 'outport_queue_position',
    text: `SELECT count(*)::int AS ahead FROM jobs
      WHERE status = 'pending' AND (run_at < $1 OR (run_at = $1 AND created_at < $2))`,
    values: [job.runAt, job.createdAt]
  })
  return row!.ahead
}

/** Ids from the request that are not the user's own (unknown, or another user's). */
export async function foreignIds(db: Db, userId: string, accountIds: string[], tagIds: string[]) {
  const [accounts, tags] = await Promise.all([
    accountIds.length ? db.account.findMany({ where: { userId, id: { in: accountIds } }, select: { id: true } }) : [],
    tagIds.length ? db.tag.findMany({ where: { userId, id: { in: tagIds } }, select: { id: true } }) : []
  ])
  const own = new Set([...accounts, ...tags].map(r => r.id))
  return { accounts: accountIds.filter(id => !own.has(id)), tags: tagIds.filter(id => !own.has(id)) }
}

/** Keyset pagination over (created_at, id), newest first: stable while new jobs arrive. */
export function encodeCursor(job: Pick<Job, 'createdAt' | 'id'>): string {
  return Buffer.from(`${job.createdAt.toISOString()}|${job.id}`).toString('base64url')
}

export function decodeCursor(cursor: string): { createdAt: Date, id: string } | null {
  const [iso, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  const createdAt = new Date(iso ?? '')
  if (!isUuid(id) || Number.isNaN(createdAt.getTime())) return null
  return { createdAt, id }
}

/**
 * The date range against EXPORT_MAX_RANGE_DAYS (inclusive days). With a cap configured an open end
 * would make it meaningless, so both dates are then required.
 */
export function rangeErrors(start: string | null | undefined, end: string | null | undefined, maxDays: number | undefined): FieldError[] {
  if (!maxDays) return []
  if (!start) return [{ field: 'start_date', message: `Required: exports cover at most ${maxDays} days` }]
  if (!end) return [{ field: 'end_date', message: `Required: exports cover at most ${maxDays} days` }]
  const days = (Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / 86_400_000 + 1
  return days > maxDays ? [{ field: 'end_date', message: `The range is ${days} days; at most ${maxDays} days are allowed` }] : []
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

/** The Idempotency-Key header: undefined when absent, null when malformed. */
export function parseIdempotencyKey(header: string | undefined): string | undefined | null {
  if (header === undefined) return undefined
  return IDEMPOTENCY_KEY.test(header) ? header : null
}
