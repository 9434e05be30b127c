import { findUserSchedule, toScheduleDTOs } from '#server/lib/schedules/store'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db } = await useAppContext()
  const schedule = await findUserSchedule(db, user.id, getRouterParam(event, 'id'))
  if (!schedule) throw createError({ statusCode: 404, message: 'Schedule not found' })
  setHeader(event, 'cache-control', 'no-store')
  const [dto] = await toScheduleDTOs(db, [schedule])
  return dto
})
