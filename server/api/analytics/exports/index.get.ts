import { ListExportsQuerySchema } from '#shared/schemas/exports'
import { decodeCursor, encodeCursor, toExportDTO } from '../../../lib/exports/service'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const { limit, cursor } = await getValidatedQuery(event, parseWith(ListExportsQuerySchema))
  const after = cursor ? decodeCursor(cursor) : undefined
  if (after === null) throw badRequest([{ field: 'cursor', message: 'Invalid cursor' }])

  const { db, storage, config } = await useAppContext()
  const jobs = await db.job.findMany({
    where: {
      userId: user.id,
      type: 'EXPORT',
      ...(after && { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] })
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: limit + 1
  })
  const page = jobs.slice(0, limit)
  setHeader(event, 'cache-control', 'no-store')
  return {
    exports: await Promise.all(page.map(job => toExportDTO(job, storage, config.EXPORT_URL_TTL_SECONDS))),
    next_cursor: jobs.length > limit ? encodeCursor(page.at(-1)!) : null
  }
})
