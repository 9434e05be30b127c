import { CreateExportSchema } from '#shared/schemas/exports'
import type { ExportMetadata } from '#shared/types/exports'
import { IdempotencyConflictError, JobLimitError, submitExportJob } from '../../../lib/jobs/queue'
import { foreignIds, parseIdempotencyKey, rangeErrors } from '../../../lib/exports/service'
import { findDataset } from '../../../lib/warehouse/datasets'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const idempotencyKey = parseIdempotencyKey(getHeader(event, 'idempotency-key'))
  if (idempotencyKey === null) throw badRequest([{ field: 'Idempotency-Key', message: 'Must be 1-255 printable ASCII characters' }])
  const body = await readValidatedBody(event, parseWith(CreateExportSchema))
  const dataset = findDataset(body.dataset_id.toLowerCase())
  if (!dataset) throw createError({ statusCode: 404, message: `Unknown dataset: ${body.dataset_id}` })

  const { db, config } = await useAppContext()
  const range = rangeErrors(body.start_date, body.end_date, config.EXPORT_MAX_RANGE_DAYS)
  if (range.length) throw badRequest(range)
  const accountIds = body.account_ids ?? []
  const tagIds = body.tag_ids ?? []
  const foreign = await foreignIds(db, user.id, accountIds, tagIds)
  const errors = [
    ...(foreign.accounts.length ? [{ field: 'account_ids', message: `Not your accounts: ${foreign.accounts.join(', ')}` }] : []),
    ...(foreign.tags.length ? [{ field: 'tag_ids', message: `Not your tags: ${foreign.tags.join(', ')}` }] : [])
  ]
  if (errors.length) throw badRequest(errors)

  const metadata: ExportMetadata = {
    dataset_id: dataset.id,
    dataset_name: dataset.name,
    format: body.format,
    filters: { start_date: body.start_date ?? null, end_date: body.end_date ?? null, account_ids: accountIds, tag_ids: tagIds }
  }
  try {
    const { job, replayed } = await submitExportJob(db, user.id, metadata, {
      maxActivePerUser: config.EXPORT_MAX_ACTIVE_PER_USER,
      maxQueueDepth: config.EXPORT_MAX_QUEUE_DEPTH,
      idempotencyKey
    })
    setResponseStatus(event, 202)
    if (replayed) setHeader(event, 'idempotent-replayed', 'true')
    return { job_id: job.id, status: job.status, message: replayed ? 'Export job already created for this Idempotency-Key' : 'Export job created' }
  } catch (error) {
    if (error instanceof IdempotencyConflictError) throw createError({ statusCode: 422, message: error.message })
    if (error instanceof JobLimitError) {
      const tooMany = error.code === 'TOO_MANY_ACTIVE'
      setHeader(event, 'retry-after', tooMany ? 30 : 60)
      throw createError({ statusCode: tooMany ? 429 : 503, message: error.message, data: { code: error.code } })
    }
    throw error
  }
})
