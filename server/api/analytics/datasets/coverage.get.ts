import { withConnection } from '#server/lib/exports/create'
import { datasetCoverage } from '#server/lib/warehouse/coverage'
import { DATASETS } from '#server/lib/warehouse/datasets'

/** The dates each dataset has the caller's rows on, for the datasets page. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { warehouse } = await useAppContext()
  return { coverage: await withConnection(warehouse, connection => datasetCoverage(connection, user.id, DATASETS)) }
})
