import { CreateBackfillSchema } from '#shared/types/schedules'
import { createBackfill } from '#server/lib/schedules/backfill'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'schedules:write' })
  const body = await readValidatedBody(event, parseWith(CreateBackfillSchema))
  const { db, config } = await useAppContext()
  const { backfillId, slots } = await createBackfill(db, config, user.id, getRouterParam(event, 'id'), body)
  await audit(event, 'schedule.backfill_created', { objectId: backfillId, details: { schedule_id: getRouterParam(event, 'id')!.toLowerCase(), start: body.start, end: body.end, slots } })
  // Its first run starts now if the user has room, not at the next scheduler pass.
  await feedSchedulesBackfills()
  setResponseStatus(event, 202)
  return { backfill_id: backfillId, slots }
})
