import { isUuid } from '#shared/utils/uuid'
import { toExportDTO } from '../../../../lib/exports/dto'
import { findUserExport } from '../../../../lib/exports/jobs/history'
import { cancelJob } from '../../../../lib/exports/jobs/queue'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const id = getRouterParam(event, 'id')
  if (!isUuid(id)) throw createError({ statusCode: 404, message: 'Export not found' })
  const { db, storage, config } = await useAppContext()
  const result = await cancelJob(db, user.id, id.toLowerCase())
  if (result.outcome === 'not_found') throw createError({ statusCode: 404, message: 'Export not found' })
  if (result.outcome === 'final') throw createError({ statusCode: 409, message: `The export is already ${result.status}`, data: { status: result.status } })
  await audit(event, 'export.cancelled', { objectId: id.toLowerCase(), details: { previous: result.previous } })
  const job = await findUserExport(db, user.id, id)
  setHeader(event, 'cache-control', 'no-store')
  return toExportDTO(job!, storage, config)
})
