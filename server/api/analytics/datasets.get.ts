import type { DatasetDTO } from '#shared/types/datasets'
import { DATASETS } from '#server/lib/warehouse/datasets'

const datasets: DatasetDTO[] = DATASETS.map(({ id, name, title, description, rowDescription, time_grain, columns, incrementalColumn }) => ({
  id, name, title, description, row_description: rowDescription, time_grain, columns: columns.map(({ name, type, description }) => ({ name, type, description })), incremental: incrementalColumn !== null
}))

export default defineEventHandler(async (event) => {
  await requireUser(event, { scope: 'exports:read' })
  return { datasets }
})
