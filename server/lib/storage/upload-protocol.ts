import type { StorageConfig, UploadResult } from './s3'

/** One upload, as the main thread asks the upload thread for it. */
export interface UploadRequest {
  type: 'upload'
  id: number
  storage: StorageConfig
  key: string
  path: string
  prefix?: Uint8Array
  contentType: string
  partSize?: number
  queueSize?: number
  fenced: boolean
}

export type ToUploadThread
  = | UploadRequest
  /** The file's writer is done (or failed: the upload must fail too). */
    | { type: 'finished', id: number, failed: boolean }
    | { type: 'abort', id: number }
    | { type: 'fence', id: number, held: boolean }

/** What the main thread needs of an upload's error to classify it (retryable or not, fenced). */
export interface UploadThreadError { message: string, name: string, code?: string, status?: number, fenced: boolean }

export type FromUploadThread
  = | { type: 'progress', id: number, bytes: number }
  /** Whether the upload may still commit or remove its object: answered with a `fence` message. */
    | { type: 'fence', id: number }
    | { type: 'done', id: number, result: UploadResult }
    | { type: 'failed', id: number, error: UploadThreadError }
