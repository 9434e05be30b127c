import { toExportDTO } from '#server/lib/exports/dto'
import { findUserExport, queuePosition } from '#server/lib/exports/jobs/history'
import { deliveriesOfJob } from '#server/lib/destinations/deliveries'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db, storage, config } = await useAppContext()
  const job = await findUserExport(db, user.id, getRouterParam(event, 'id'))
  if (!job) throw createError({ statusCode: 404, message: 'Export not found' })
  // A presigned URL must never be cached: each read mints a fresh one.
  setHeader(event, 'cache-control', 'no-store')
  // Not audited as a download: a client polling for completion would fill the trail, and a minted
  // URL is not a fetched file. Downloads are audited where they happen: the /download route and
  // the signed link.
  return toExportDTO(job, storage, config, await queuePosition(db, job), await deliveriesOfJob(db, job))
})
