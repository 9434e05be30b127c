import { z } from 'zod'
import { ExportFormatSchema, type ExportFormat } from './formats'
import type { JobStatus } from './jobs'

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
  /** The schedule that started the run, for notifications (set by scheduled runs). */
  schedule_name?: string
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
  expires_at: string | null
  created_at: string
  started_at: string | null
  completed_at: string | null
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

export const ListExportsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional()
})
