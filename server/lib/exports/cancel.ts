import type { Db } from '../db/client'
import type { LogFn } from '../log'
import type { Storage } from '../storage/s3'
import { RequestError } from '../validation'
import { isUuid } from '#shared/utils/uuid'
import { findUserExport } from './jobs/history'
import { cancelJob } from './jobs/queue'
import type { ExportJob } from './jobs/record'
import { removeExportObjects } from './orphans'

/**
 * Cancels the user's pending or running export (a running one's worker is told to stop) and
 * removes any object one of its attempts already committed. Returns the job as it now is and the
 * status it had; another user's or an unknown id is a 404, an export that already finished a 409
 * naming its status (`data.status`).
 */
export async function cancelExport(db: Db, storage: Storage, userId: string, jobId: unknown, log: LogFn = () => {}): Promise<{ job: ExportJob, previous: 'pending' | 'running' }> {
  if (!isUuid(jobId)) throw new RequestError(404, 'Export not found')
  const result = await cancelJob(db, userId, jobId.toLowerCase())
  if (result.outcome === 'not_found') throw new RequestError(404, 'Export not found')
  if (result.outcome === 'final') throw new RequestError(409, `The export is already ${result.status}`, { data: { status: result.status } })
  const job = (await findUserExport(db, userId, jobId))!
  // The cancel stands without it: the run removes what it commits, the orphan sweep the rest.
  await removeExportObjects(storage, job).catch((error: Error) => log(`job ${job.id}: could not delete the cancelled export's objects: ${error.message}`, { job_id: job.id, user_id: userId }))
  return { job, previous: result.previous }
}
