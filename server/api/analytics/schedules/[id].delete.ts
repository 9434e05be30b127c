import { deleteSchedule } from '#server/lib/schedules/store'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'schedules:write' })
  const { db } = await useAppContext()
  if (!await deleteSchedule(db, user.id, getRouterParam(event, 'id'))) throw createError({ statusCode: 404, message: 'Schedule not found' })
  setResponseStatus(event, 204)
  return null
})
