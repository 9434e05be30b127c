import type { Db } from '#server/lib/db/client'
import { lastExportByDataset } from '#server/lib/exports/jobs/lookups'
import type { DatasetLastExportDTO } from '#shared/types/datasets'

export interface DatasetUsage { last_export: DatasetLastExportDTO | null, schedule_count: number }

/** The user's newest export of each dataset and how many of their schedules export it. */
export async function datasetUsage(db: Db, userId: string, datasetIds: readonly string[]): Promise<Map<string, DatasetUsage>> {
  const [lastExports, { rows }] = await Promise.all([
    lastExportByDataset(db, userId, datasetIds),
    db.pool.query<{ dataset_id: string, schedule_count: number }>({
      text: `SELECT d.id AS dataset_id,
          (SELECT count(*)::int FROM schedules s WHERE s.user_id = $1 AND s.request->>'dataset_id' = d.id) AS schedule_count
        FROM unnest($2::text[]) AS d(id)`,
      values: [userId, datasetIds]
    })
  ])
  return new Map(rows.map((row) => {
    const last = lastExports.get(row.dataset_id)
    return [row.dataset_id, {
      last_export: last ? { ...last, created_at: last.created_at.toISOString() } : null,
      schedule_count: row.schedule_count
    }]
  }))
}
