import { deleteExport } from '#server/lib/exports/delete'
import { toExportDTO } from '#server/lib/exports/dto'
import { deliveriesOfJob } from '#server/lib/destinations/deliveries'

/** Deletes the caller's export: the file leaves S3 now, the job stays as `deleted` (cancelled first if still going). */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:write' })
  const { db, storage, config } = await useAppContext()
  const { job, cancelled } = await deleteExport(db, storage, user.id, getRouterParam(event, 'id'))
  if (cancelled) await audit(event, 'export.cancelled', { objectId: job.id, details: { dataset_id: job.metadata.dataset_id, on_delete: true } })
  await audit(event, 'export.deleted', { objectId: job.id, details: { dataset_id: job.metadata.dataset_id } })
  setHeader(event, 'cache-control', 'no-store')
  return toExportDTO(job, storage, config, null, await deliveriesOfJob(db, job))
})
