import { formatTable } from '#shared/types/format-table'

const formats = formatTable()

export default defineEventHandler(async (event) => {
  await requireUser(event, { scope: 'exports:read' })
  return formats
})
