import { cancelExport } from '#server/lib/exports/cancel'
import { toExportDTO } from '#server/lib/exports/dto'
import { deliveriesOfJob } from '#server/lib/destinations/deliveries'
import { logFn } from '#server/lib/log'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:write' })
  const { db, storage, config } = await useAppContext()
  const { job, previous } = await cancelExport(db, storage, user.id, getRouterParam(event, 'id'), logFn(useRequestLog(event)))
  await audit(event, 'export.cancelled', { objectId: job.id, details: { previous } })
  setHeader(event, 'cache-control', 'no-store')
  return toExportDTO(job, storage, config, null, await deliveriesOfJob(db, job))
})
