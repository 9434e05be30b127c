import type { DatasetCoverageDTO } from '#shared/types/datasets'
import { datasetUsage } from '#server/lib/datasets/usage'
import { withConnection } from '#server/lib/exports/create'
import { datasetCoverage } from '#server/lib/warehouse/coverage'
import { DATASETS } from '#server/lib/warehouse/datasets'

/** What the caller has in each dataset and does with it, for the datasets page's cards. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { warehouse, db } = await useAppContext()
  const [rows, usage] = await Promise.all([
    withConnection(warehouse, connection => datasetCoverage(connection, user.id, DATASETS)),
    datasetUsage(db, user.id, DATASETS.map(d => d.id))
  ])
  setHeader(event, 'cache-control', 'no-store')
  return {
    coverage: rows.map((row): DatasetCoverageDTO => ({ ...row, ...usage.get(row.dataset_id)! }))
  }
})
