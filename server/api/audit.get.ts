import { ListAuditQuerySchema } from '#shared/types/audit'
import { listAuditEvents } from '../lib/audit'

/** The caller's own audit events, newest first, a page at a time, optionally of some kinds only, with the names of what they concern. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const query = await getValidatedQuery(event, parseWith(ListAuditQuerySchema))
  const { db } = await useAppContext()
  const page = await listAuditEvents(db, user.id, { limit: query.limit, cursor: query.cursor, actions: query.action })
  if (!page) throw new ValidationError([{ field: 'cursor', message: 'Invalid cursor' }])
  setHeader(event, 'cache-control', 'no-store')
  return { events: page.events, next_cursor: page.nextCursor }
})
