import { ListExportsQuerySchema } from '#shared/types/exports'
import { toExportDTO } from '#server/lib/exports/dto'
import { listUserExports } from '#server/lib/exports/jobs/history'
import { deliveriesByJob } from '#server/lib/destinations/deliveries'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const query = await getValidatedQuery(event, parseWith(ListExportsQuerySchema))
  const { db, storage, config } = await useAppContext()
  const page = await listUserExports(db, user.id, query)
  if (!page) throw new ValidationError([{ field: 'cursor', message: 'Invalid cursor' }])
  setHeader(event, 'cache-control', 'no-store')
  const deliveries = await deliveriesByJob(db, page.jobs)
  return {
    exports: await Promise.all(page.jobs.map(job => toExportDTO(job, storage, config, null, deliveries.get(job.id)))),
    next_cursor: page.nextCursor
  }
})
