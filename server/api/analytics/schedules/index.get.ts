import { listUserSchedules, toScheduleDTOs } from '#server/lib/schedules/store'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db } = await useAppContext()
  setHeader(event, 'cache-control', 'no-store')
  return { schedules: await toScheduleDTOs(db, await listUserSchedules(db, user.id)) }
})
