import { mintDownloadLink } from '#server/lib/exports/dto'
import { findUserExport } from '#server/lib/exports/jobs/history'
import { isMultiPart } from '#server/lib/exports/zip'
import { parseWith, ValidationError } from '#server/lib/validation'
import { DownloadQuerySchema } from '#shared/types/exports'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const query = await getValidatedQuery(event, parseWith(DownloadQuerySchema))
  const { db, storage, config } = await useAppContext()
  const job = await findUserExport(db, user.id, getRouterParam(event, 'id'))
  if (!job) throw createError({ statusCode: 404, message: 'Export not found' })
  if (job.status === 'expired') throw createError({ statusCode: 410, message: 'This export has expired; start a new one' })
  if (job.status === 'deleted') throw createError({ statusCode: 410, message: 'This export was deleted; start a new one' })
  const part = requestedPart(query.part, job)
  if (part === 'invalid') throw new ValidationError([{ field: 'part', message: job.metadata.parts ? `A part number from 1 to ${job.metadata.parts.length}` : 'This export is one file, not in parts' }])
  if (job.status === 'completed' && isMultiPart(job)) {
    await audit(event, 'export.downloaded', { objectId: job.id, details: { via: 'api', ...(part !== null && { part }) } })
    return sendPartedDownload(event, storage, config, job, part)
  }
  const link = await mintDownloadLink(storage, job, config.EXPORT_URL_TTL_SECONDS)
  if (!link) throw createError({ statusCode: 409, message: `The export is ${job.status}, not completed` })
  await audit(event, 'export.downloaded', { objectId: job.id, details: { via: 'api' } })
  setHeader(event, 'cache-control', 'no-store')
  return sendRedirect(event, link.url, 302)
})
