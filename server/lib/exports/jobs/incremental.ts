import type { Db } from '#server/lib/db/client'
import type { Prisma } from '#server/generated/prisma/client'
import type { DatasetFilters } from '#server/lib/warehouse/query'
import { isoToUs, usToIso } from '#server/lib/schedules/watermark'
import type { ExportMetadata, IncrementalRun } from '#shared/types/exports'
import type { ClaimedJob } from './queue'
import { json } from './record'

/**
 * Incremental schedules' runs ("only new rows since the last run"). A run's window is fixed when it
 * STARTS (each attempt), under the schedule row's lock: from = the schedule's watermark (the `as_of`
 * of the last run that completed), as_of = the warehouse's latest load time then. The run exports
 * `from < loaded_at <= as_of`, and its completion moves the watermark to its as_of in the same
 * transaction as the job's (completeJob), only if the watermark is still its `from`. So:
 * - a run queued while another ran picks its window after that one completed, not when queued;
 * - one run of a schedule is under way at a time: a run that starts while another has its window
 *   waits (deferred), so two windows never both start at the same watermark and overlap;
 * - a failed, cancelled or deleted run never moves the watermark: the next run covers its rows;
 * - rows loaded during a run carry later load times than its as_of (loads stamp their own clock),
 *   so they fall in the next window; none falls between two windows.
 */

/**
 * Starts the claimed run's window: the job with `incremental.from`/`as_of` (and, for a first run,
 * the schedule's initial start date) recorded, or null when another run of the schedule is under
 * way with its window (the caller defers this one) or the claim is gone.
 */
export async function startIncrementalRun(db: Db, job: ClaimedJob, latestLoad: () => Promise<bigint | null>): Promise<ClaimedJob | null> {
  const incremental = job.metadata.incremental!
  return db.$transaction(async (tx) => {
    let watermark: bigint | null = null
    if (job.scheduleId) {
      const [schedule] = await tx.$queryRaw<Array<{ watermark_us: bigint | null }>>`
        SELECT watermark_us FROM schedules WHERE id = ${job.scheduleId}::uuid FOR UPDATE`
      watermark = schedule?.watermark_us ?? null
      const [other] = await tx.$queryRaw<Array<{ id: string }>>`
        SELECT id FROM jobs
        WHERE schedule_id = ${job.scheduleId}::uuid AND status = 'running' AND id <> ${job.id}::uuid AND (metadata->'incremental') ? 'as_of'
        LIMIT 1`
      if (other) return null
    }
    const latest = await latestLoad()
    // Never behind the watermark (a reset ahead of the data, a warehouse rebuilt with older loads): an empty window.
    const asOf = latest === null || (watermark !== null && latest < watermark) ? watermark : latest
    const window: IncrementalRun = {
      initial_start_date: incremental.initial_start_date,
      from: watermark === null ? null : usToIso(watermark),
      as_of: asOf === null ? null : usToIso(asOf)
    }
    const metadata: ExportMetadata = {
      ...job.metadata,
      // The initial start date bounds a first run only: later runs take every row loaded since.
      filters: { ...job.metadata.filters, start_date: watermark === null ? incremental.initial_start_date : null },
      incremental: window
    }
    const { count } = await tx.job.updateMany({ where: { id: job.id, claimId: job.claimId, status: 'running' }, data: { metadata: json(metadata) } })
    return count === 1 ? { ...job, metadata } : null
  })
}

/** In completeJob's transaction: the watermark moves to the run's as_of if it is still the run's from (a reset meanwhile wins). */
export async function advanceWatermark(tx: Prisma.TransactionClient, scheduleId: string, run: IncrementalRun): Promise<void> {
  if (run.as_of === undefined || run.as_of === null) return
  const from = run.from ? isoToUs(run.from) : null
  await tx.$executeRaw`
    UPDATE schedules SET watermark_us = ${isoToUs(run.as_of)}
    WHERE id = ${scheduleId}::uuid AND watermark_us IS NOT DISTINCT FROM ${from}::bigint`
}

// Before any load there is nothing to export: a window that ends before every possible row.
const BEFORE_ALL_LOADS = '0001-01-01T00:00:00Z'

/** The dataset filters a run exports with: its date and row filters, and for an incremental run its window. */
export function runFilters(metadata: ExportMetadata): DatasetFilters {
  const run = metadata.incremental
  if (!run) return metadata.filters
  return { ...metadata.filters, loaded_after: run.from ?? null, loaded_until: run.as_of ?? BEFORE_ALL_LOADS }
}
