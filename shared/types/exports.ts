/** Export job shapes shared by the API, the worker and the app (snake_case, as in the PRD). */

export type ExportFormat = 'csv' | 'parquet'

export type JobStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'expired'

export const FINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled', 'expired']

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

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  parquet: 'application/vnd.apache.parquet'
}
