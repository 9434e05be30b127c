import type { Db } from '#server/lib/db/client'
import type { DatasetLastExportDTO } from '#shared/types/datasets'

export interface DatasetUsage { last_export: DatasetLastExportDTO | null, schedule_count: number }

/**
 * The user's newest export of each dataset and how many of their schedules export it. One query:
 * each dataset's newest job walks the (user_id, created_at) index backwards and stops at the first
 * match, so a long history costs no more than a short one.
 */
export async function datasetUsage(db: Db, userId: string, datasetIds: readonly string[]): Promise<Map<string, DatasetUsage>> {
  const { rows } = await db.pool.query<{ dataset_id: string, job_id: string | null, format: string | null, status: string | null, created_at: Date | null, schedule_count: number }>({
    text: `SELECT d.id AS dataset_id, last.id AS job_id, last.format, last.status, last.created_at,
        (SELECT count(*)::int FROM schedules s WHERE s.user_id = $1 AND s.request->>'dataset_id' = d.id) AS schedule_count
      FROM unnest($2::text[]) AS d(id)
      LEFT JOIN LATERAL (
        SELECT j.id, j.metadata->>'format' AS format, j.status::text AS status, j.created_at FROM jobs j
        WHERE j.user_id = $1 AND j.type = 'EXPORT' AND j.metadata->>'dataset_id' = d.id
        ORDER BY j.created_at DESC, j.id DESC LIMIT 1
      ) AS last ON true`,
    values: [userId, datasetIds]
  })
  return new Map(rows.map(row => [row.dataset_id, {
    last_export: row.job_id ? { job_id: row.job_id, format: row.format!, status: row.status!, created_at: row.created_at!.toISOString() } : null,
    schedule_count: row.schedule_count
  }]))
}
