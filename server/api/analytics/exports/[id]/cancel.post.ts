import { cancelJob } from '../../../../lib/jobs/queue'
import { findUserExport, toExportDTO } from '../../../../lib/exports/service'
import { isUuid } from '../../../../lib/warehouse/query'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const id = getRouterParam(event, 'id')
  if (!isUuid(id)) throw createError({ statusCode: 404, message: 'Export not found' })
  const { db, storage, config } = await useAppContext()
  const result = await cancelJob(db, user.id, id.toLowerCase())
  if (result.outcome === 'not_found') throw createError({ statusCode: 404, message: 'Export not found' })
  if (result.outcome === 'final') throw createError({ statusCode: 409, message: `The export is already ${result.status}`, data: { status: result.status } })
  const job = await findUserExport(db, user.id, id)
  setHeader(event, 'cache-control', 'no-store')
  return toExportDTO(job!, storage, config.EXPORT_URL_TTL_SECONDS)
})
