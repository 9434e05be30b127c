import { UpdateScheduleSchema } from '#shared/types/schedules'
import { toScheduleDTOs, updateSchedule } from '#server/lib/schedules/store'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'schedules:write' })
  const patch = await readValidatedBody(event, parseWith(UpdateScheduleSchema))
  const { db, config } = await useAppContext()
  const schedule = await updateSchedule(db, config, user.id, getRouterParam(event, 'id'), patch)
  const [dto] = await toScheduleDTOs(db, [schedule])
  return dto
})
