import { toExportDTO } from '#server/lib/exports/dto'
import { findUserExport, queuePosition } from '#server/lib/exports/jobs/history'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { db, storage, config } = await useAppContext()
  const job = await findUserExport(db, user.id, getRouterParam(event, 'id'))
  if (!job) throw createError({ statusCode: 404, message: 'Export not found' })
  // A presigned URL must never be cached: each read mints a fresh one.
  setHeader(event, 'cache-control', 'no-store')
  const dto = await toExportDTO(job, storage, config, await queuePosition(db, job))
  // A minted URL is a download handed out, whoever follows it.
  if (dto.download_url) await audit(event, 'export.downloaded', { objectId: job.id, details: { via: 'status' } })
  return dto
})
