import { z } from 'zod'
import { ExportFormatSchema, type ExportFormat } from './formats'
import { JOB_STATUS_IDS, type JobStatus } from './jobs'

/** Export requests, job metadata and the status DTO, shared by the API, the worker and the app (snake_case, as in the PRD). */

export const MAX_FILTER_IDS = 1000

export interface ExportFilters {
  start_date: string | null
  end_date: string | null
  account_ids: string[]
  tag_ids: string[]
}

export interface ExportProgress {
  phase: 'queued' | 'querying' | 'uploading' | 'finalizing'
  percent: number
  rows: number | null
  bytes_uploaded: number | null
}

export interface ExportError { code: string, message: string }

/** What the job's `metadata` JSONB holds for an export. */
export interface ExportMetadata {
  dataset_id: string
  dataset_name: string
  format: ExportFormat
  filters: ExportFilters
  s3_key?: string
  row_count?: number
  file_size_bytes?: number
  checksum_sha256?: string
}

/** What a finished run adds to the metadata. */
export type ExportResult = Required<Pick<ExportMetadata, 's3_key' | 'row_count' | 'file_size_bytes' | 'checksum_sha256'>>

export interface ExportJobDTO {
  job_id: string
  status: JobStatus
  dataset_id: string
  dataset_name: string
  format: ExportFormat
  filters: ExportFilters
  row_count: number | null
  file_size_bytes: number | null
  checksum_sha256: string | null
  progress: ExportProgress | null
  error: ExportError | null
  attempts: number
  /** For a pending job: how many exports are ahead of it in the queue (status reads only). */
  queue_position: number | null
  download_url: string | null
  /** When `download_url` itself stops working (the presigned URL's expiry). */
  expires_at: string | null
  /** When retention deletes the file (completed_at + EXPORT_RETENTION_HOURS); null unless completed. */
  file_expires_at: string | null
  created_at: string
  started_at: string | null
  completed_at: string | null
  /** When the user deleted the export (status `deleted`). */
  deleted_at: string | null
}

const id = z.guid('Must be a UUID')

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'Must be a date as YYYY-MM-DD').refine((value) => {
  const date = new Date(`${value}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value)
}, 'Must be a real calendar date')

const ids = (what: string) => z.array(id).max(MAX_FILTER_IDS, `At most ${MAX_FILTER_IDS} ${what}`)
  .transform(values => [...new Set(values.map(v => v.toLowerCase()))])

/** The export request: validated by the dialog before sending and by the API on arrival. */
export const CreateExportSchema = z.strictObject({
  dataset_id: id,
  format: ExportFormatSchema,
  start_date: isoDate.nullish(),
  end_date: isoDate.nullish(),
  account_ids: ids('accounts').nullish(),
  tag_ids: ids('tags').nullish()
}).refine(v => !v.start_date || !v.end_date || v.start_date <= v.end_date, {
  path: ['end_date'],
  message: 'The end date must be on or after the start date'
})

export type CreateExportInput = z.input<typeof CreateExportSchema>

/** `status=completed,failed`: one or more names from the status table, as a set. */
const statusList = z.string().max(200).transform((value, ctx) => {
  const names = [...new Set(value.split(',').map(s => s.trim()).filter(Boolean))]
  const unknown = names.filter(name => !(JOB_STATUS_IDS as string[]).includes(name))
  if (!names.length || unknown.length) {
    ctx.addIssue({ code: 'custom', message: `${unknown.length ? `Unknown status: ${unknown.join(', ')}. ` : ''}Use a comma-separated list of: ${JOB_STATUS_IDS.join(', ')}` })
    return z.NEVER
  }
  return names as JobStatus[]
})

const instant = z.iso.datetime({ offset: true, message: 'Must be an ISO 8601 date-time, e.g. 2026-12-01T00:00:00Z' })
  .transform(value => new Date(value))

/** The export history's query: a page (keyset cursor) of the exports matching every filter given. */
export const ListExportsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
  status: statusList.optional(),
  dataset_id: id.transform(v => v.toLowerCase()).optional(),
  created_after: instant.optional(),
  created_before: instant.optional()
}).refine(v => !v.created_after || !v.created_before || v.created_after < v.created_before, {
  path: ['created_before'],
  message: 'Must be after created_after'
})

export type ListExportsQuery = z.output<typeof ListExportsQuerySchema>
