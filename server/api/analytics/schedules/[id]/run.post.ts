import { isUuid } from '#shared/utils/uuid'
import { runScheduleNow } from '../../../../lib/schedules/scheduler'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const id = getRouterParam(event, 'id')
  if (!isUuid(id)) throw createError({ statusCode: 404, message: 'Schedule not found' })
  const { db, config } = await useAppContext()
  const { job, paused } = await runScheduleNow(db, config, user.id, id.toLowerCase()).catch((error) => {
    throw httpError(error, event)
  })
  // A run that could not start (its filters are gone) is announced like any failed export.
  if (job.status === 'failed') (await useNotifications()).jobFinished(job.id)
  if (paused) await announcePause(paused, job.id)
  setResponseStatus(event, 202)
  return { job_id: job.id, status: job.status, message: job.status === 'failed' ? 'Scheduled export could not start' : 'Export job created' }
})
