import { CreateExportSchema } from '#shared/types/exports'
import { previewExport } from '#server/lib/exports/preview'

/** What an export with this body would produce (columns, first rows, row count, size); creates nothing. */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'exports:write' })
  const body = await readValidatedBody(event, parseWith(CreateExportSchema))
  const { db, warehouse, config } = await useAppContext()
  return previewExport({ db, warehouse, workDir: config.EXPORT_WORK_DIR }, config, user.id, body)
})
