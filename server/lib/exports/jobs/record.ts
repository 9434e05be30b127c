import { Prisma, type Job as JobRow, type JobStatus as DbJobStatus } from '#server/generated/prisma/client'
import type { ExportError, ExportMetadata, ExportProgress, ExportSource } from '#shared/types/exports'
import type { JobStatus } from '#shared/types/jobs'

/**
 * An export job as the rest of the engine sees it: the `jobs` row with its JSON columns typed. The
 * modules in this folder are the only code that reads or writes the `jobs` table, and
 * toExportJob() is the only place a row's JSON becomes typed metadata.
 */
export interface ExportJob {
  id: string
  userId: string
  status: JobStatus
  metadata: ExportMetadata
  progress: ExportProgress | null
  error: ExportError | null
  attempts: number
  runAt: Date
  lockedBy: string | null
  lockedUntil: Date | null
  /** Set while running: the current claim's fencing token (see queue.ts). */
  claimId: string | null
  createdAt: Date
  startedAt: Date | null
  completedAt: Date | null
  /** A schedule's run: the schedule (null once deleted) and the slot it ran for. */
  scheduleId: string | null
  scheduledFor: Date | null
  /** How it came about: a browser session, an API token or a schedule. */
  source: ExportSource
  /** When the user deleted it (status `deleted`). */
  deletedAt: Date | null
}

// The database enum and the app's status table must name the same statuses.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
export const STATUSES_AGREE: Same<DbJobStatus, JobStatus> = true

export function toExportJob(row: JobRow): ExportJob {
  return {
    id: row.id,
    userId: row.userId,
    status: row.status,
    // Written only by this folder, from the ExportMetadata/ExportProgress/ExportError types.
    metadata: row.metadata as unknown as ExportMetadata,
    progress: (row.progress as unknown as ExportProgress | null) ?? null,
    error: (row.error as unknown as ExportError | null) ?? null,
    attempts: row.attempts,
    runAt: row.runAt,
    lockedBy: row.lockedBy,
    lockedUntil: row.lockedUntil,
    claimId: row.claimId,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    completedAt: row.completedAt,
    scheduleId: row.scheduleId,
    scheduledFor: row.scheduledFor,
    // Written only from EXPORT_SOURCES (and held to them by a check constraint).
    source: row.source as ExportSource,
    deletedAt: row.deletedAt
  }
}

/** JSON for a JSONB column (Prisma's input type does not accept our interfaces as they are). */
export function json(value: ExportMetadata | ExportProgress | ExportError): Prisma.InputJsonObject {
  return value as unknown as Prisma.InputJsonObject
}

/**
 * The select list for raw SQL that returns whole rows, aliased to Prisma's field names. Derived from
 * the generated client, so a column added to the schema is never missing here; every column is
 * the snake_case of its field.
 */
export const JOB_COLUMNS = Object.values(Prisma.JobScalarFieldEnum)
  .map(field => `${field.replace(/[A-Z]/g, c => `_${c.toLowerCase()}`)} AS "${field}"`)
  .join(', ')

export const QUEUED_PROGRESS: ExportProgress = { phase: 'queued', percent: 0, rows: null, bytes_uploaded: null }
