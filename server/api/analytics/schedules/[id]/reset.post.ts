import { ResetScheduleSchema } from '#shared/types/schedules'
import { resetWatermark, toScheduleDTOs } from '#server/lib/schedules/store'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'schedules:write' })
  const body = await readValidatedBody(event, parseWith(ResetScheduleSchema))
  const { db } = await useAppContext()
  const schedule = await resetWatermark(db, user.id, getRouterParam(event, 'id'), body.watermark)
  const [dto] = await toScheduleDTOs(db, [schedule])
  await audit(event, 'schedule.watermark_reset', { objectId: schedule.id, details: { watermark: dto!.watermark } })
  return dto
})
