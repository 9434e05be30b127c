import { CreateExportSchema } from '#shared/types/exports'
import { createExport } from '#server/lib/exports/create'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:write' })
  const body = await readValidatedBody(event, parseWith(CreateExportSchema))
  const { db, warehouse, config } = await useAppContext()
  const { job, replayed } = await createExport({ db, warehouse }, config, user.id, body, {
    source: event.context.apiTokenId ? 'api' : 'manual',
    idempotencyHeader: getHeader(event, 'idempotency-key')
  })
  if (!replayed) await audit(event, 'export.created', { objectId: job.id, details: { dataset_id: job.metadata.dataset_id, format: job.metadata.format } })
  setResponseStatus(event, 202)
  if (replayed) setHeader(event, 'idempotent-replayed', 'true')
  return { job_id: job.id, status: job.status, message: replayed ? 'Export job already created for this Idempotency-Key' : 'Export job created' }
})
