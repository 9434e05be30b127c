import type { Db } from '#server/lib/db/client'
import type { JobStatus } from '#shared/types/jobs'

/**
 * Jobs by status across all users, for the `outport_jobs` gauge (read at every scrape). One
 * grouped count that the (status, run_at, created_at) index answers; statuses with no jobs are
 * absent.
 */
export async function countByStatus(db: Db): Promise<Partial<Record<JobStatus, number>>> {
  const { rows } = await db.pool.query<{ status: JobStatus, count: string }>({
    name: 'outport_jobs_by_status',
    text: 'SELECT status::text AS status, count(*) AS count FROM jobs GROUP BY status'
  })
  return Object.fromEntries(rows.map(r => [r.status, Number(r.count)]))
}
