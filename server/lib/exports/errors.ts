import type { ExportErrorCode } from '#shared/types/errors'
import type { ExportError } from '#shared/types/exports'

/**
 * A failure with a message a user can act on. `retryable` failures (storage or warehouse briefly
 * unavailable) are tried again with backoff; the others (a removed dataset, invalid filters) fail
 * at once, since running them again cannot succeed.
 */
export class ExportFailure extends Error {
  constructor(readonly code: ExportErrorCode, message: string, readonly retryable: boolean, options?: { cause?: unknown }) {
    super(message, options)
  }

  toJSON(): ExportError {
    return { code: this.code, message: this.message }
  }
}

/** The run was stopped: the job was cancelled, or this run lost its claim. Nothing to record. */
export class ExportCancelled extends Error {
  constructor() {
    super('The export was cancelled')
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'UND_ERR_SOCKET'])

function isNetworkError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: string }).code
    if (code && NETWORK_CODES.has(code)) return true
    const name = (e as { name?: string }).name
    if (name === 'TimeoutError' || name === 'RequestTimeout') return true
  }
  return false
}

/** Turns what the storage SDK threw into a failure the user can read. */
export function storageFailure(error: unknown): ExportFailure {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
  if (isNetworkError(error) || (status !== undefined && status >= 500) || status === 429) {
    return new ExportFailure('STORAGE_UNAVAILABLE', 'The file storage service could not be reached. Please try again in a few minutes.', true, { cause: error })
  }
  return new ExportFailure('STORAGE_ERROR', 'The export file could not be stored. Please try again; if it keeps failing, contact support.', false, { cause: error })
}

/** Something the export depends on failed in passing: tried again with backoff. */
export function temporaryFailure(cause: unknown): ExportFailure {
  return new ExportFailure('TEMPORARY_FAILURE', 'A service the export depends on was briefly unavailable. Please try again.', true, { cause })
}

export function asExportFailure(error: unknown): ExportFailure {
  if (error instanceof ExportFailure) return error
  if (isNetworkError(error)) {
    return temporaryFailure(error)
  }
  return new ExportFailure('INTERNAL_ERROR', 'The export failed unexpectedly. Please try again; if it keeps failing, contact support.', false, { cause: error })
}
