import { mintDownloadLink } from '#server/lib/exports/dto'
import { findUserExport } from '#server/lib/exports/jobs/history'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db, storage, config } = await useAppContext()
  const job = await findUserExport(db, user.id, getRouterParam(event, 'id'))
  if (!job) throw createError({ statusCode: 404, message: 'Export not found' })
  if (job.status === 'expired') throw createError({ statusCode: 410, message: 'This export has expired; start a new one' })
  if (job.status === 'deleted') throw createError({ statusCode: 410, message: 'This export was deleted; start a new one' })
  const link = await mintDownloadLink(storage, job, config.EXPORT_URL_TTL_SECONDS)
  if (!link) throw createError({ statusCode: 409, message: `The export is ${job.status}, not completed` })
  await audit(event, 'export.downloaded', { objectId: job.id, details: { via: 'api' } })
  setHeader(event, 'cache-control', 'no-store')
  return sendRedirect(event, link.url, 302)
})
