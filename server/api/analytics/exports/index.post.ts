import { CreateExportSchema } from '#shared/schemas/exports'
import type { ExportMetadata } from '#shared/types/exports'
import { createExportJob } from '../../../lib/jobs/queue'
import { foreignIds } from '../../../lib/exports/service'
import { findDataset } from '../../../lib/warehouse/datasets'

export default defineEventHandler(async (event) => {
  const user = await requireUser(event)
  const body = await readValidatedBody(event, parseWith(CreateExportSchema))
  const dataset = findDataset(body.dataset_id.toLowerCase())
  if (!dataset) throw createError({ statusCode: 404, message: `Unknown dataset: ${body.dataset_id}` })

  const { db } = await useAppContext()
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
  const job = await createExportJob(db, user.id, metadata)
  setResponseStatus(event, 202)
  return { job_id: job.id, status: job.status, message: 'Export job created' }
})
