import { cancelBackfill } from '#server/lib/schedules/backfill'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'schedules:write' })
  const { db } = await useAppContext()
  const cancelled = await cancelBackfill(db, user.id, getRouterParam(event, 'id'), getRouterParam(event, 'backfill_id'))
  await audit(event, 'schedule.backfill_cancelled', { objectId: getRouterParam(event, 'backfill_id')!.toLowerCase(), details: { cancelled } })
  return { cancelled }
})
