import { readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Db } from '../db/client'
import { deleteObject, type Storage } from '../storage/s3'
import { completedBefore, markExpired } from './jobs/housekeeping'
import { resultKeys } from './run'

/** When a completed export's file is due to be removed: the end of its retention. */
export function retentionEnd(completedAt: Date, retentionHours: number): Date {
  return new Date(completedAt.getTime() + retentionHours * 3600_000)
}

export interface RetentionOptions {
  retentionHours: number
  /** The clock; tests move it forward instead of waiting a day. */
  now?: Date
  batchSize?: number
  log?: (line: string) => void
}

/**
 * Deletes the files of completed exports older than the retention period and marks the jobs
 * `expired`. The object goes first: a job marked expired never points at a file that still exists
 * for longer than one failed run, and a delete that failed is tried again on the next sweep. Safe to
 * run from several processes at once (deletes are idempotent, the update is conditional).
 */
export async function expireExports(db: Db, storage: Storage, opts: RetentionOptions): Promise<{ expired: string[], failed: string[] }> {
  // Completed before this, an export's retention has ended by now.
  const cutoff = retentionEnd(opts.now ?? new Date(), -opts.retentionHours)
  const expired: string[] = []
  const failed: string[] = []
  for (;;) {
    const jobs = await completedBefore(db, cutoff, { skip: failed, limit: opts.batchSize ?? 200 })
    if (!jobs.length) break
    for (const job of jobs) {
      // A multi-part export's parts first, its manifest (the set's marker) last.
      const keys = resultKeys(job.metadata).reverse()
      try {
        for (const key of keys) await deleteObject(storage, key)
      } catch (error) {
        failed.push(job.id)
        opts.log?.(`retention: could not delete ${keys.join(', ')}: ${(error as Error).message}`)
        continue
      }
      if (await markExpired(db, job.id)) expired.push(job.id)
    }
  }
  return { expired, failed }
}

/**
 * Removes files and folders in the work directory not modified for `maxAgeMs`: what a killed
 * process left behind (its temp exports, DuckDB spill files). Returns the names removed.
 */
export async function removeStaleWorkFiles(workDir: string, maxAgeMs: number, now = new Date()): Promise<string[]> {
  const removed: string[] = []
  for (const entry of await readdir(workDir, { withFileTypes: true }).catch(() => [])) {
    const path = join(workDir, entry.name)
    if (entry.isDirectory()) {
      // The spill folder itself stays; only its stale contents go.
      removed.push(...(await removeStaleWorkFiles(path, maxAgeMs, now)).map(name => join(entry.name, name)))
      continue
    }
    const info = await stat(path).catch(() => null)
    if (info && now.getTime() - info.mtimeMs > maxAgeMs) {
      await rm(path, { force: true })
      removed.push(entry.name)
    }
  }
  return removed
}
