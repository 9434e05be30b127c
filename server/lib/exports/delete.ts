import type { Db } from '../db/client'
import type { Storage } from '../storage/s3'
import { RequestError } from '../validation'
import { isActiveStatus } from '#shared/types/jobs'
import { isUuid } from '#shared/utils/uuid'
import { findUserExport } from './jobs/history'
import { markDeleted } from './jobs/housekeeping'
import { cancelJob } from './jobs/queue'
import type { ExportJob } from './jobs/record'
import { removeExportObjects } from './orphans'

/**
 * Deletes the user's export: its file leaves S3 now and the job stays in the history as `deleted`
 * (its download answers 410). A pending or running export is cancelled first, so no worker can
 * complete it afterwards; its objects are deleted too, in case an upload had already finished.
 * The object goes before the mark, as in retention: a job marked deleted never points at a file that
 * still exists, and a failed S3 delete leaves the job as it was, to be deleted again.
 * Returns the job and whether it was cancelled on the way; another user's or an unknown id is a 404.
 */
export async function deleteExport(db: Db, storage: Storage, userId: string, jobId: unknown): Promise<{ job: ExportJob, cancelled: boolean }> {
  const found = isUuid(jobId) ? await findUserExport(db, userId, jobId) : null
  if (!found) throw new RequestError(404, 'Export not found')
  if (found.status === 'deleted') return { job: found, cancelled: false }

  let cancelled = false
  if (isActiveStatus(found.status)) {
    const outcome = await cancelJob(db, userId, found.id)
    if (outcome.outcome === 'not_found') throw new RequestError(404, 'Export not found')
    // 'final': it finished meanwhile, which is as good.
    cancelled = outcome.outcome === 'cancelled'
  }
  // A job that never completed has no s3_key yet, but a cancelled run's upload may have finished
  // under its attempt's own key: every object under the job's prefix goes. A commit still on the
  // wire lands after this; its run removes it (or, failing that, the orphan sweep).
  try {
    await removeExportObjects(storage, found)
  } catch (error) {
    throw new RequestError(503, `The file could not be deleted from storage right now (${(error as Error).message}); please try again`, { retryAfterSeconds: 30 })
  }
  const job = await markDeleted(db, userId, found.id)
  // Only a job that became active again can miss the mark, which a finished job never does.
  if (!job) throw new RequestError(409, 'The export changed while it was being deleted; please try again')
  return { job, cancelled }
}
