import type { Db } from '../db/client'
import { RequestError } from '../validation'
import { isUuid } from '#shared/utils/uuid'
import { findUserExport } from './jobs/history'
import { cancelJob } from './jobs/queue'
import type { ExportJob } from './jobs/record'

/**
 * Cancels the user's pending or running export (a running one's worker is told to stop). Returns
 * the job as it now is and the status it had; another user's or an unknown id is a 404, an export
 * that already finished a 409 naming its status (`data.status`).
 */
export async function cancelExport(db: Db, userId: string, jobId: unknown): Promise<{ job: ExportJob, previous: 'pending' | 'running' }> {
  if (!isUuid(jobId)) throw new RequestError(404, 'Export not found')
  const result = await cancelJob(db, userId, jobId.toLowerCase())
  if (result.outcome === 'not_found') throw new RequestError(404, 'Export not found')
  if (result.outcome === 'final') throw new RequestError(409, `The export is already ${result.status}`, { data: { status: result.status } })
  const job = await findUserExport(db, userId, jobId)
  return { job: job!, previous: result.previous }
}
