import { unlinkUser } from '#server/lib/telegram/linking'

/** Disconnects the caller's chat (and voids any code not yet used). */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'webhooks:write' })
  const { db } = await useAppContext()
  await unlinkUser(db, user.id)
  await audit(event, 'telegram.unlinked', { details: { via: 'app' } })
  return { linked: false }
})
