import { listBackfills } from '#server/lib/schedules/backfill'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db } = await useAppContext()
  return { backfills: await listBackfills(db, user.id, getRouterParam(event, 'id')) }
})
