import type { Db } from '../db/client'
import type { LogFn } from '../log'
import type { OrphanMetrics } from '../metrics'
import { deleteObject, listObjects, type Storage } from '../storage/s3'
import { isUuid } from '#shared/utils/uuid'
import { liveJobsAmong } from './jobs/housekeeping'
import type { ExportJob } from './jobs/record'
import { exportPrefix, resultKeys } from './run'

/** The root every export's key starts with (exports/{user_id}/{job_id}…, see exportKey). */
const EXPORTS_ROOT = 'exports/'
const KEY_IDS = /^exports\/([0-9a-f-]{36})\/([0-9a-f-]{36})[./]/

/**
 * Removes every object of the job but `keep`: whichever attempts wrote one (each has its own key
 * under the job's prefix), and the file its completion recorded. Listing the prefix finds what no
 * record names: an attempt whose upload committed after its job was cancelled or deleted, or whose
 * worker died before it could record it.
 */
export async function removeExportObjects(storage: Storage, job: Pick<ExportJob, 'userId' | 'id' | 'metadata'>, keep: readonly string[] = []): Promise<void> {
  const keys = new Set(resultKeys(job.metadata))
  for await (const page of listObjects(storage, exportPrefix(job.userId, job.id))) {
    for (const object of page) keys.add(object.key)
  }
  for (const key of keep) keys.delete(key)
  for (const key of keys) await deleteObject(storage, key)
}

/** Whether a live job (pending, running or completed) still needs the object at `key`. */
function owns(job: ExportJob, key: string): boolean {
  // Completed: only its recorded file (or parts and manifest). Pending or running: any attempt's,
  // one may be committing now.
  if (job.status === 'completed') return resultKeys(job.metadata).includes(key)
  return key.startsWith(exportPrefix(job.userId, job.id))
}

export interface OrphanSweepOptions {
  /** Objects younger than this are left alone: an upload may be about to be recorded (default 1 h). */
  minAgeMs?: number
  /** The clock; tests move it forward instead of waiting an hour. */
  now?: Date
  log?: LogFn
  metrics?: OrphanMetrics
}

/**
 * Deletes the objects under exports/ that no live job owns and that are older than `minAgeMs`:
 * what a commit that landed after its job was cancelled or deleted left when its worker could not
 * remove it (the worker died, S3 refused the delete), and files of jobs that are gone. Safe to run
 * from several processes at once: deletes are idempotent, and a live job's objects are never touched.
 */
export async function sweepOrphans(db: Db, storage: Storage, opts: OrphanSweepOptions = {}): Promise<{ found: number, deleted: number }> {
  const cutoff = (opts.now ?? new Date()).getTime() - (opts.minAgeMs ?? 3600_000)
  let found = 0
  let deleted = 0
  for await (const page of listObjects(storage, EXPORTS_ROOT)) {
    const old = page.filter(object => object.lastModified.getTime() < cutoff)
    const jobIds = [...new Set(old.map(object => KEY_IDS.exec(object.key)?.[2]).filter(isUuid))]
    const live = new Map((await liveJobsAmong(db, jobIds)).map(job => [job.id, job]))
    const orphans = old.filter((object) => {
      const [, userId, jobId] = KEY_IDS.exec(object.key) ?? []
      const job = live.get(jobId ?? '')
      return !job || job.userId !== userId || !owns(job, object.key)
    })
    found += orphans.length
    opts.metrics?.found(orphans.length)
    for (const { key } of orphans) {
      try {
        await deleteObject(storage, key)
        deleted++
        opts.metrics?.deleted(1)
      } catch (error) {
        opts.log?.(`orphans: could not delete ${key}: ${(error as Error).message}`)
      }
    }
  }
  return { found, deleted }
}
