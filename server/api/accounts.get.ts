import type { NamedItemDTO } from '#shared/types/api'

export default defineEventHandler(async (event): Promise<NamedItemDTO[]> => {
  const user = await requireUser(event, { scope: 'exports:read' })
  const { db } = await useAppContext()
  return db.account.findMany({ where: { userId: user.id }, select: { id: true, name: true }, orderBy: [{ name: 'asc' }, { id: 'asc' }] })
})
