import { CreateScheduleSchema } from '#shared/types/schedules'
import { createSchedule, toScheduleDTOs } from '#server/lib/schedules/store'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'schedules:write' })
  const body = await readValidatedBody(event, parseWith(CreateScheduleSchema))
  const { db, config } = await useAppContext()
  const schedule = await createSchedule(db, config, user.id, body)
  setResponseStatus(event, 201)
  const [dto] = await toScheduleDTOs(db, [schedule])
  return dto
})
