import type { Db } from '#server/lib/db/client'

/** Whether the user has ever started an export (any status). */
export async function hasExports(db: Db, userId: string): Promise<boolean> {
  const { rows: [row] } = await db.pool.query<{ found: boolean }>({
    text: `SELECT EXISTS (SELECT 1 FROM jobs WHERE user_id = $1 AND type = 'EXPORT') AS found`,
    values: [userId]
  })
  return row?.found ?? false
}

export interface LastExport { job_id: string, format: string, status: string, created_at: Date }

/**
 * The user's newest export of each dataset, in one query: each dataset's newest job walks the
 * (user_id, created_at) index backwards and stops at the first match, so a long history costs no
 * more than a short one. A dataset never exported is absent.
 */
export async function lastExportByDataset(db: Db, userId: string, datasetIds: readonly string[]): Promise<Map<string, LastExport>> {
  const { rows } = await db.pool.query<LastExport & { dataset_id: string }>({
    text: `SELECT d.id AS dataset_id, last.id AS job_id, last.format, last.status, last.created_at
      FROM unnest($2::text[]) AS d(id)
      JOIN LATERAL (
        SELECT j.id, j.metadata->>'format' AS format, j.status::text AS status, j.created_at FROM jobs j
        WHERE j.user_id = $1 AND j.type = 'EXPORT' AND j.metadata->>'dataset_id' = d.id
        ORDER BY j.created_at DESC, j.id DESC LIMIT 1
      ) AS last ON true`,
    values: [userId, datasetIds]
  })
  return new Map(rows.map(({ dataset_id, ...last }) => [dataset_id, last]))
}

/** The user's own jobs among `ids`, with their metadata (for naming them); others' are absent. */
export function jobsWithMetadata(db: Db, userId: string, ids: string[]) {
  return db.job.findMany({ where: { userId, id: { in: ids } }, select: { id: true, metadata: true } })
}
