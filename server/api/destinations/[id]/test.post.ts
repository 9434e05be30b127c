import { destinationsKey, findDestination, openDestination, recordTest } from '#server/lib/destinations/store'
import { testDestination } from '#server/lib/destinations/test'

/** Tests the saved destination step by step and records the result on it (an SFTP fingerprint is reported, never saved). */
export default defineEventHandler(async (event) => {
  const user = await requireUser(event, { scope: 'destinations:write' })
  const { db, config } = await useAppContext()
  const row = await findDestination(db, user.id, getRouterParam(event, 'id'))
  await (await useDestinationTestLimit()).take(user.id)
  const result = await testDestination(db, user.id, openDestination(row, destinationsKey(config)), { allowHosts: config.WEBHOOK_ALLOW_HOSTS, stsEndpoint: config.DESTINATIONS_STS_ENDPOINT })
  await recordTest(db, row.id, result)
  await audit(event, 'destination.tested', { objectId: row.id, details: { name: row.name, type: row.type, saved: true, ok: result.ok, failed_step: result.steps.find(s => !s.ok)?.step ?? null } })
  return result
})
