import { isUuid } from '#shared/utils/uuid'
import { runScheduleNow } from '#server/lib/schedules/scheduler'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'schedules:write' })
  const id = getRouterParam(event, 'id')
  if (!isUuid(id)) throw createError({ statusCode: 404, message: 'Schedule not found' })
  const { db, config } = await useAppContext()
  const { job, paused } = await runScheduleNow(db, config, user.id, id.toLowerCase())
  // A run that could not start (its filters are gone) is announced like any failed export.
  if (job.status === 'failed') (await useNotifications()).jobFinished(job.id)
  if (paused) await announcePause(paused, job.id)
  // A person asked for this run, unlike the cadence's: it is in their audit trail as an export they started.
  await audit(event, 'export.created', { objectId: job.id, details: { dataset_id: job.metadata.dataset_id, format: job.metadata.format, schedule_id: job.scheduleId, trigger: 'run_now' } })
  setResponseStatus(event, 202)
  return { job_id: job.id, status: job.status, message: job.status === 'failed' ? 'Scheduled export could not start' : 'Export job created' }
})
